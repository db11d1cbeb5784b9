import Foundation

/// A NIC model `vboot rom build` can make option ROMs for: iPXE names ROMs by PCI ID.
public struct NICModel: Hashable, Sendable, Codable {
    public var name: String
    public var vendor: UInt16
    public var device: UInt16

    public init(name: String, vendor: UInt16, device: UInt16) {
        self.name = name
        self.vendor = vendor
        self.device = device
    }

    /// `1af41000`: the file stem iPXE uses for bin/<id>.rom and bin-*-efi/<id>.efirom.
    public var pciID: String { Self.hex(vendor) + Self.hex(device) }

    static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// The NICs QEMU and libvirt guests use most.
    public static let known: [NICModel] = [
        NICModel(name: "virtio-net", vendor: 0x1af4, device: 0x1000),
        NICModel(name: "e1000", vendor: 0x8086, device: 0x100e),
        NICModel(name: "e1000e", vendor: 0x8086, device: 0x10d3),
        NICModel(name: "rtl8139", vendor: 0x10ec, device: 0x8139),
    ]
}

/// A UEFI architecture iPXE builds EFI applications for, named as iPXE's `bin-<arch>-efi`.
public enum EFIArchitecture: String, Hashable, Sendable, CaseIterable {
    case x86_64
    case arm64

    /// iPXE's BIN directory for this architecture.
    public var binDirectory: String { "bin-\(rawValue)-efi" }

    /// Added to an output's stem, so binaries of several architectures share one directory; the
    /// names are the ones proxyDHCP looks for (`ipxe-arm64.efi` for client architecture 11).
    public var outputSuffix: String {
        switch self {
        case .x86_64: ""
        case .arm64: "-arm64"
        }
    }

    /// The GNU triplet prefix of Debian's cross compiler, when the build host is another architecture.
    public var crossCompilePrefix: String? {
        switch self {
        case .x86_64:
            #if arch(x86_64)
                nil
            #else
                "x86_64-linux-gnu-"
            #endif
        case .arm64:
            #if arch(arm64)
                nil
            #else
                "aarch64-linux-gnu-"
            #endif
        }
    }

    /// Debian's package for `crossCompilePrefix`'s compiler.
    public var crossCompilerPackage: String {
        switch self {
        case .x86_64: "gcc-x86-64-linux-gnu"
        case .arm64: "gcc-aarch64-linux-gnu"
        }
    }
}

/// One file `vboot rom build` produces.
public enum IPXEBuildTarget: Hashable, Sendable {
    /// An EFI application: `ipxe` (iPXE's own NIC drivers, SNP as fallback) or `snponly` (only the
    /// firmware's network interface) for one UEFI architecture.
    case efiApplication(String, EFIArchitecture)
    /// `undionly.kpxe` for BIOS PXE chainloading.
    case biosChainloader(String)
    /// A NIC option ROM: legacy, EFI, or both images in one ROM (combined in Swift).
    case optionROM(NICModel, OptionROMKind)

    public enum OptionROMKind: String, Hashable, Sendable, CaseIterable {
        case legacy, efi, combined
    }

    /// The EFI applications iPXE builds that vboot offers.
    static let efiApplications = ["ipxe", "snponly"]

    /// `--target` names of the EFI applications: `ipxe.efi`, `snponly.efi`, `ipxe-arm64.efi`, ...
    static let efiApplicationNames: [String] = EFIArchitecture.allCases.flatMap { arch in
        efiApplications.map { "\($0)\(arch.outputSuffix).efi" }
    }

    /// Name in the output directory.
    public var outputName: String {
        switch self {
        case .efiApplication(let name, let arch): "\(name)\(arch.outputSuffix).efi"
        case .biosChainloader(let name): name
        case .optionROM(let nic, .legacy): "\(nic.name).rom"
        case .optionROM(let nic, .efi): "\(nic.name).efirom"
        case .optionROM(let nic, .combined): "\(nic.name).combined.rom"
        }
    }

    /// The UEFI architecture this target is compiled for (nil: x86 BIOS code).
    public var efiArchitecture: EFIArchitecture? {
        switch self {
        case .efiApplication(_, let arch): arch
        case .optionROM(_, .efi), .optionROM(_, .combined): .x86_64
        case .biosChainloader, .optionROM(_, .legacy): nil
        }
    }

    /// What make must build for this target, relative to iPXE's `src/`.
    public var makeGoals: [String] {
        switch self {
        case .efiApplication(let name, let arch): ["\(arch.binDirectory)/\(name).efi"]
        case .biosChainloader(let name): ["\(IPXEBuildPlan.biosBinDirectory)/\(name)"]
        case .optionROM(let nic, .legacy): ["\(IPXEBuildPlan.biosBinDirectory)/\(nic.pciID).rom"]
        case .optionROM(let nic, .efi): ["\(IPXEBuildPlan.efiBinDirectory)/\(nic.pciID).efirom"]
        case .optionROM(let nic, .combined):
            IPXEBuildTarget.optionROM(nic, .legacy).makeGoals + IPXEBuildTarget.optionROM(nic, .efi).makeGoals
        }
    }

    /// Parses `--target` values: `ipxe.efi`, `snponly.efi`, `ipxe-arm64.efi`, `snponly-arm64.efi`,
    /// `undionly.kpxe`, a NIC model name (all three ROM kinds), or `MODEL:KIND`.
    public static func parse(_ text: String) throws(IPXEBuildPlan.PlanError) -> [IPXEBuildTarget] {
        for arch in EFIArchitecture.allCases {
            for name in efiApplications where text == "\(name)\(arch.outputSuffix).efi" {
                return [.efiApplication(name, arch)]
            }
        }
        if text == "undionly.kpxe" { return [.biosChainloader(text)] }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let nic = NICModel.known.first(where: { $0.name == parts.first }) else {
            throw .unknownTarget(text, known: efiApplicationNames + ["undionly.kpxe"] + NICModel.known.map(\.name))
        }
        if parts.count == 1 { return OptionROMKind.allCases.map { .optionROM(nic, $0) } }
        guard let kind = OptionROMKind(rawValue: parts[1]) else {
            throw .unknownTarget(text, known: OptionROMKind.allCases.map { "\(nic.name):\($0.rawValue)" })
        }
        return [.optionROM(nic, kind)]
    }
}

/// Everything one `vboot rom build` does, as a value: tests read it, `IPXEBuilder` runs it.
public struct IPXEBuildPlan: Hashable, Sendable {
    public static let efiBinDirectory = EFIArchitecture.x86_64.binDirectory
    public static let biosBinDirectory = "bin"
    /// Name of the rendered embedded script inside the build tree.
    public static let embeddedScriptName = "vboot-embed.ipxe"

    public enum PlanError: Error, Hashable, Sendable, CustomStringConvertible {
        case unknownTarget(String, known: [String])
        case badServerURL(String)
        case noTargets
        /// Without a script only an EFI application fetches `autoexec.ipxe` (`efiprefix.c`);
        /// anything else would be a stock iPXE.
        case scriptlessNeedsEFIApplications([String])

        public var description: String {
            switch self {
            case .unknownTarget(let text, let known):
                "unknown target \"\(text)\"; known: \(known.joined(separator: ", "))"
            case .badServerURL(let url):
                "--server \(url): expected http://HOST[:PORT] (vboot's HTTP address as the machines see it)"
            case .noTargets: "no targets"
            case .scriptlessNeedsEFIApplications(let names):
                "--no-embed: \(names.joined(separator: ", ")) would run no script (only EFI applications such as ipxe.efi and snponly.efi fetch autoexec.ipxe)"
            }
        }
    }

    public var commit: String
    public var targets: [IPXEBuildTarget]
    /// `config/local/<name>` → contents.
    public var headers: [String: String]
    /// Nil builds iPXE with none: an EFI binary then runs `autoexec.ipxe` from where it was
    /// loaded, as iPXE's signed `ipxe.efi` does (`vboot serve` answers it).
    public var embeddedScript: String?
    public var sourceDateEpoch: Int

    /// All goals for one `make` run: every BIN directory is built in the same invocation, since
    /// starting a second one later rebuilds the first from scratch.
    public var makeGoals: [String] {
        var goals: [String] = []
        for goal in targets.flatMap(\.makeGoals) where !goals.contains(goal) { goals.append(goal) }
        return goals
    }

    public var binDirectories: [String] {
        var directories: [String] = []
        for goal in makeGoals {
            let directory = String(goal.prefix { $0 != "/" })
            if !directories.contains(directory) { directories.append(directory) }
        }
        return directories
    }

    /// The architectures that need a cross compiler on this host (iPXE picks `CROSS_COMPILE_<arch>`
    /// per BIN directory, so one make builds them all).
    public var crossArchitectures: [EFIArchitecture] {
        EFIArchitecture.allCases.filter { arch in
            arch.crossCompilePrefix != nil && targets.contains { $0.efiArchitecture == arch }
        }
    }

    /// What make is told besides the goals.
    public var makeVariables: [String: String] {
        // An empty EMBED builds no embedded image; a change either way rebuilds only that image.
        var variables = [
            "EMBED": embeddedScript == nil ? "" : Self.embeddedScriptName, "GITVERSION": String(commit.prefix(8)),
        ]
        for arch in crossArchitectures { variables["CROSS_COMPILE_\(arch.rawValue)"] = arch.crossCompilePrefix }
        return variables
    }

    /// Identifies a build tree: same commit and headers → reuse it, so a changed embedded script
    /// only recompiles the embedded image and relinks.
    public var configHash: String {
        Checksum.sha256(
            Array((headers.sorted { $0.key < $1.key }.map { "\($0.key)\n\($0.value)" }.joined(separator: "\u{0}")).utf8)
        )
    }

    public var scriptHash: String? { embeddedScript.map { Checksum.sha256(Array($0.utf8)) } }

    /// Build tree name under the cache: one per (commit, config).
    public var treeName: String { "\(commit.prefix(12))-\(configHash.prefix(12))" }

    public static func make(
        commit: String, targets: [String], embed: (template: String, server: String)?, headers: [String: String],
        sourceDateEpoch: Int
    ) throws(PlanError) -> IPXEBuildPlan {
        var script: String?
        if let (template, server) = embed {
            guard server.hasPrefix("http://") || server.hasPrefix("https://"),
                let url = URL(string: server), url.host != nil, !server.contains(" ")
            else { throw .badServerURL(server) }
            let trimmed = server.hasSuffix("/") ? String(server.dropLast()) : server
            script = template.replacingOccurrences(of: "{{server}}", with: trimmed)
        }
        var parsed: [IPXEBuildTarget] = []
        for text in targets {
            for target in try IPXEBuildTarget.parse(text) where !parsed.contains(target) { parsed.append(target) }
        }
        guard !parsed.isEmpty else { throw .noTargets }
        let notApplications = parsed.filter {
            if case .efiApplication = $0 { false } else { true }
        }
        if script == nil, !notApplications.isEmpty {
            throw .scriptlessNeedsEFIApplications(notApplications.map(\.outputName))
        }
        return IPXEBuildPlan(
            commit: commit, targets: parsed, headers: headers, embeddedScript: script,
            sourceDateEpoch: sourceDateEpoch)
    }

    /// `vboot rom build` with no `--target`.
    public static let defaultTargets = ["ipxe.efi", "snponly.efi", "undionly.kpxe", "virtio-net"]
    /// `vboot rom build --no-embed` with no `--target`: the binaries that run `autoexec.ipxe`.
    public static let defaultScriptlessTargets = ["ipxe.efi", "snponly.efi"]
}
