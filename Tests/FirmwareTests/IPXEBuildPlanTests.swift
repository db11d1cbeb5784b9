import Foundation
import Testing

@testable import Firmware

@Suite("iPXE build plan")
struct IPXEBuildPlanTests {
    static let commit = "12798ec29aa8a64d8675c4378b99f5fe28447afb"
    static let template = "#!ipxe\nchain {{server}}/boot.ipxe?mac=${net0/mac:hexhyp}\n"

    static func plan(
        _ targets: [String], server: String = "http://10.0.0.2:8080",
        headers: [String: String] = ["general.h": "#define PING_CMD\n"]
    ) throws -> IPXEBuildPlan {
        try IPXEBuildPlan.make(
            commit: commit, targets: targets, embed: (template, server), headers: headers,
            sourceDateEpoch: 1_772_812_135)
    }

    @Test func defaultTargetsBuildBothBinDirectoriesInOneMake() throws {
        let plan = try Self.plan(IPXEBuildPlan.defaultTargets)
        #expect(
            plan.makeGoals == [
                "bin-x86_64-efi/ipxe.efi", "bin-x86_64-efi/snponly.efi", "bin/undionly.kpxe",
                "bin/1af41000.rom", "bin-x86_64-efi/1af41000.efirom",
            ])
        #expect(plan.binDirectories == ["bin-x86_64-efi", "bin"])
        #expect(
            plan.targets.map(\.outputName) == [
                "ipxe.efi", "snponly.efi", "undionly.kpxe", "virtio-net.rom", "virtio-net.efirom",
                "virtio-net.combined.rom",
            ])
        #expect(plan.makeVariables == ["EMBED": "vboot-embed.ipxe", "GITVERSION": "12798ec2"])
    }

    @Test func withoutAnEmbeddedScriptMakeGetsAnEmptyEmbed() throws {
        let plan = try IPXEBuildPlan.make(
            commit: Self.commit, targets: ["ipxe.efi"], embed: nil, headers: [:], sourceDateEpoch: 1)
        #expect(plan.embeddedScript == nil)
        #expect(plan.scriptHash == nil)
        #expect(plan.makeVariables == ["EMBED": "", "GITVERSION": "12798ec2"])
        // Same tree as the build with a script: only the embedded image differs.
        #expect(
            plan.configHash
                == (try IPXEBuildPlan.make(
                    commit: Self.commit, targets: ["ipxe.efi"], embed: (Self.template, "http://10.0.0.2"), headers: [:],
                    sourceDateEpoch: 1)).configHash)
    }

    /// Only EFI applications fetch `autoexec.ipxe`: a script-less BIOS or NIC build is refused.
    @Test func withoutAScriptOnlyEFIApplications() throws {
        #expect(throws: IPXEBuildPlan.PlanError.scriptlessNeedsEFIApplications(["undionly.kpxe", "virtio-net.rom"])) {
            try IPXEBuildPlan.make(
                commit: Self.commit, targets: ["ipxe-arm64.efi", "undionly.kpxe", "virtio-net:legacy"], embed: nil,
                headers: [:], sourceDateEpoch: 1)
        }
        let plan = try IPXEBuildPlan.make(
            commit: Self.commit, targets: IPXEBuildPlan.defaultScriptlessTargets, embed: nil, headers: [:],
            sourceDateEpoch: 1)
        #expect(plan.targets.map(\.outputName) == ["ipxe.efi", "snponly.efi"])
    }

    @Test(arguments: [
        ("e1000", "8086100e"), ("e1000e", "808610d3"), ("rtl8139", "10ec8139"), ("virtio-net", "1af41000"),
    ])
    func nicModelsMapToIPXEsPCIIDNames(model: String, pciID: String) throws {
        let plan = try Self.plan(["\(model):legacy", "\(model):efi"])
        #expect(plan.makeGoals == ["bin/\(pciID).rom", "bin-x86_64-efi/\(pciID).efirom"])
    }

    @Test func arm64ApplicationsAreCrossCompiledInTheSameMake() throws {
        let plan = try Self.plan(["ipxe.efi", "ipxe-arm64.efi", "snponly-arm64.efi"])
        #expect(plan.makeGoals == ["bin-x86_64-efi/ipxe.efi", "bin-arm64-efi/ipxe.efi", "bin-arm64-efi/snponly.efi"])
        // The names proxyDHCP offers ARM64 UEFI clients (architecture 11).
        #expect(plan.targets.map(\.outputName) == ["ipxe.efi", "ipxe-arm64.efi", "snponly-arm64.efi"])
        #expect(plan.crossArchitectures == [.arm64])
        #expect(plan.makeVariables["CROSS_COMPILE_arm64"] == "aarch64-linux-gnu-")
        #expect(try Self.plan(["ipxe.efi", "virtio-net"]).makeVariables["CROSS_COMPILE_arm64"] == nil)
    }

    @Test func aMissingCrossCompilerIsNamedByItsPackage() throws {
        let plan = try Self.plan(["ipxe-arm64.efi"])
        let hasCompiler = IPXEBuilder.which("aarch64-linux-gnu-gcc") != nil
        #expect(IPXEBuilder.missingToolchain(for: plan).contains("gcc-aarch64-linux-gnu") == !hasCompiler)
        #expect(!IPXEBuilder.missingToolchain(for: try Self.plan(["ipxe.efi"])).contains("gcc-aarch64-linux-gnu"))
    }

    @Test func embeddedScriptGetsTheServerAndKeepsIPXEVariables() throws {
        let plan = try Self.plan(["ipxe.efi"], server: "http://192.0.2.1:8080/")
        #expect(plan.embeddedScript == "#!ipxe\nchain http://192.0.2.1:8080/boot.ipxe?mac=${net0/mac:hexhyp}\n")
    }

    @Test func scriptChangeKeepsTheTreeConfigChangeDoesNot() throws {
        let a = try Self.plan(["ipxe.efi"], server: "http://10.0.0.2:8080")
        let b = try Self.plan(["ipxe.efi"], server: "http://10.0.0.3:8080")
        let c = try Self.plan(["ipxe.efi"], headers: ["general.h": "#define NTP_CMD\n"])
        #expect(a.treeName == b.treeName, "a new script relinks in the same tree")
        #expect(a.scriptHash != b.scriptHash)
        #expect(a.treeName != c.treeName, "other headers need their own tree")
    }

    @Test func errorsNameTheChoices() {
        #expect(
            throws: IPXEBuildPlan.PlanError.unknownTarget(
                "e1001",
                known: [
                    "ipxe.efi", "snponly.efi", "ipxe-arm64.efi", "snponly-arm64.efi", "undionly.kpxe", "virtio-net",
                    "e1000", "e1000e", "rtl8139",
                ])
        ) {
            try Self.plan(["e1001"])
        }
        #expect(throws: IPXEBuildPlan.PlanError.badServerURL("10.0.0.2:8080")) {
            try Self.plan(["ipxe.efi"], server: "10.0.0.2:8080")
        }
        #expect(throws: IPXEBuildPlan.PlanError.noTargets) { try Self.plan([]) }
    }

    @Test func theShippedRecipePlans() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardizedFileURL.path
        let lock = try IPXELock(parsing: String(contentsOfFile: "\(root)/ipxe/ipxe.lock", encoding: .utf8))
        #expect(lock.url == "https://github.com/ipxe/ipxe.git")
        #expect(lock.commit.count == 40)
        let job = IPXEBuildJob(
            source: nil, embed: (templateFile: "\(root)/ipxe/embed.ipxe", server: "http://10.0.0.2:8080"),
            targets: ["ipxe.efi"],
            out: "/nonexistent", recipe: "\(root)/ipxe", cache: "/nonexistent", jobs: 1)
        let plan = try job.plan(commit: lock.commit, lock: lock)
        #expect(Set(plan.headers.keys) == ["general.h", "console.h"])
        let script = try #require(plan.embeddedScript)
        #expect(script.contains("set vboot-server http://10.0.0.2:8080"))
        #expect(script.contains("set user-class vboot"))
        #expect(!script.contains("{{"))
        #expect(plan.sourceDateEpoch == lock.epoch)
    }
}

@Suite("ipxe.lock")
struct IPXELockTests {
    @Test func parses() throws {
        let lock = try IPXELock(
            parsing:
                "# c\nurl = https://example.invalid/ipxe.git\ncommit=12798EC29AA8A64D8675C4378B99F5FE28447AFB\ntag=v2.0.0\nepoch=5\n"
        )
        #expect(
            lock
                == IPXELock(
                    url: "https://example.invalid/ipxe.git", commit: "12798ec29aa8a64d8675c4378b99f5fe28447afb",
                    tag: "v2.0.0", epoch: 5))
    }

    @Test(arguments: [
        ("url=x\ncommit=v2.0.0\n", "commit must be a full 40-hex commit id"),
        ("url=x\nbranch=main\n", "line 2: unknown key \"branch\""),
        ("url=x\njunk\n", "line 2: expected key=value"),
        ("commit=12798ec29aa8a64d8675c4378b99f5fe28447afb\n", "no url"),
    ])
    func errorsSayWhere(text: String, message: String) {
        do {
            _ = try IPXELock(parsing: text)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.contains(message), "\(error.description)")
        }
    }
}

@Suite("SHA-256 (FIPS 180-4 examples)")
struct ChecksumTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func vectors(input: String, digest: String) {
        #expect(Checksum.sha256(Array(input.utf8)) == digest)
    }

    @Test func millionAs() {
        #expect(
            Checksum.sha256([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite("make output progress")
struct StepCounterTests {
    final class Box: @unchecked Sendable {
        var seen: [IPXEBuilder.Progress] = []
    }

    @Test func countsIPXEsBuildLines() {
        let box = Box()
        let counter = IPXEBuilder.StepCounter(expected: 10) { box.seen.append($0) }
        for line in [
            "make: Entering directory '/x/src'", "  [DEPS] core/main.c", "  [BUILD] bin/main.o", "gcc -c something",
            "  [LD] bin/undionly.kpxe.tmp",
        ] {
            counter.line(line)
        }
        #expect(box.seen.map(\.action) == ["DEPS", "BUILD", "LD"])
        #expect(box.seen.map(\.file) == ["core/main.c", "bin/main.o", "bin/undionly.kpxe.tmp"])
        #expect(box.seen.last?.step == 3)
        #expect(box.seen.last?.expectedSteps == 10)
    }
}

@Suite("build tree timestamps")
struct SettleSharedHeadersTests {
    /// The state iPXE leaves after a first build of several BIN directories: the shared headers
    /// touched after the first directories' objects were compiled.
    @Test func sharedHeadersEndNoNewerThanTheMakefiles() throws {
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("settle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: source) }
        let files = FileManager.default
        for directory in ["config", "include/ipxe", "bin-x86_64-efi", "bin"] {
            try files.createDirectory(atPath: "\(source)/\(directory)", withIntermediateDirectories: true)
        }
        let makefilesTime = Date(timeIntervalSince1970: 1_772_812_135)
        let touched = makefilesTime.addingTimeInterval(600)
        for name in ["Makefile", "Makefile.housekeeping", ".echocheck"] {
            try #require(files.createFile(atPath: "\(source)/\(name)", contents: Data()))
            try files.setAttributes([.modificationDate: makefilesTime], ofItemAtPath: "\(source)/\(name)")
        }
        let late =
            IPXEBuilder.sharedOptionHeaders
            + ["bin", "bin-x86_64-efi"].flatMap { bin in IPXEBuilder.optionLists.map { "\(bin)/\($0)" } }
        for name in late {
            try #require(files.createFile(atPath: "\(source)/\(name)", contents: Data("x".utf8)))
            try files.setAttributes([.modificationDate: touched], ofItemAtPath: "\(source)/\(name)")
        }
        IPXEBuilder.settleSharedHeaders(in: source)
        for name in late {
            let date = try files.attributesOfItem(atPath: "\(source)/\(name)")[.modificationDate] as? Date
            #expect(date == makefilesTime, "\(name)")
            #expect(files.contents(atPath: "\(source)/\(name)") == Data("x".utf8), "contents untouched")
        }
    }
}
