import BootPolicy
import DHCPv4
import Foundation
import Testing

/// The profiles in `boot-scripts/profiles`, parsed and rendered the way vboot serves them, then
/// read back as iPXE: commands, URLs, labels.
@Suite("shipped boot profiles")
struct ShippedProfileTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../boot-scripts/profiles").standardizedFileURL

    /// Every `*.ipxe` file there, without the extension.
    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".ipxe") }.map { String($0.dropLast(".ipxe".count)) }.sorted()
    }()

    /// Profiles that start an installer (or a live system) with a kernel command line.
    static let linuxProfiles = ["debian", "ubuntu", "fedora", "alma", "alpine"]

    static let mac = "52-54-00-12-34-56"
    static let server = "http://10.0.0.2:8080"
    static let callback = "http://10.0.0.2:8080/api/v1/machines/52-54-00-12-34-56/done?token=0123456789abcdef"
    static let builtIns = Set(
        BootScriptContext.clientKeys + ["mac", "server", "assets", "ipxe", "done_url", "vboot_vars"])

    // MARK: Loading and rendering

    static func profile(_ name: String) throws -> Profile {
        let source = try String(contentsOf: directory.appendingPathComponent("\(name).ipxe"), encoding: .utf8)
        return try Profile(name: name, source: source)
    }

    /// Renders as `/boot.ipxe` does: profile defaults < site variables < machine variables < built-ins.
    static func render(
        _ name: String, machine variables: [String: String]? = nil, site: [String: String] = [:],
        callback: String? = nil
    ) throws -> String {
        let profile = try Self.profile(name)
        let request = BootScriptContext(
            mac: mac, serverURL: server, query: ["platform": "efi", "arch": "x86_64", "uuid": "4c4c4544-0042"])
        let machine = variables.map { Machine(mac: HardwareAddress("52:54:00:12:34:56")!, variables: $0) }
        let context = request.merging(
            machine: machine, profileDefaults: profile.defaults, siteVariables: site, callbackURL: callback)
        return try BootScriptRenderer.render(template: profile.source, name: "profiles/\(name).ipxe", context: context)
    }

    // MARK: Reading iPXE

    /// One iPXE command: a line split at `&&`, `||` and `;`, comments dropped.
    struct Command {
        var words: [String]
        var line: String
        var name: String { words.first ?? "" }
    }

    static func commands(in script: String) -> [Command] {
        var commands: [Command] = []
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            var words: [String] = []
            for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) {
                if word.hasPrefix("#") { break }  // iPXE: a word starting with # starts a comment
                if ["&&", "||", ";"].contains(word) {
                    if !words.isEmpty { commands.append(Command(words: words, line: String(line))) }
                    words = []
                } else {
                    words.append(word)
                }
            }
            if !words.isEmpty { commands.append(Command(words: words, line: String(line))) }
        }
        return commands
    }

    /// Commands whose first non-option argument is something to download.
    static let downloading: Set = ["kernel", "initrd", "chain", "imgfetch", "imgexec", "module"]

    /// The URL (or image name) a downloading command fetches, after its options.
    static func target(of command: Command) -> String? {
        var rest = command.words.dropFirst()
        while let word = rest.first, word.hasPrefix("--") {
            rest = rest.dropFirst()
            if word == "--name" || word == "--timeout" { rest = rest.dropFirst() }
        }
        return rest.first
    }

    static func option(_ option: String, of command: Command) -> String? {
        guard let index = command.words.firstIndex(of: option), index + 1 < command.words.count else { return nil }
        return command.words[index + 1]
    }

    static func kernel(in script: String) throws -> Command {
        try #require(commands(in: script).first { $0.name == "kernel" }, "no kernel command")
    }

    /// Mustache tags in order: `{{x}}` has no sigil, `{{#x}}`, `{{^x}}` and `{{/x}}` have theirs.
    static func tags(in source: String) -> [(sigil: Character?, name: String)] {
        var tags: [(sigil: Character?, name: String)] = []
        var rest = source[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            let tag = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            let sigil = tag.first.flatMap { "#^/".contains($0) ? $0 : nil }
            tags.append((sigil, String(tag.dropFirst(sigil == nil ? 0 : 1))))
            rest = rest[close.upperBound...]
        }
        return tags
    }

    // MARK: Every profile

    @Test func theExpectedProfilesShip() {
        let expected: Set = ["debian", "ubuntu", "fedora", "alma", "alpine", "netbootxyz", "local", "shell", "memtest"]
        #expect(expected.isSubset(of: Set(Self.names)), "missing: \(expected.subtracting(Self.names).sorted())")
    }

    @Test(arguments: names)
    func headerParsesAndDescribesEveryVariable(name: String) throws {
        let profile = try Self.profile(name)
        #expect(profile.source.hasPrefix("#!ipxe\n"))
        #expect(profile.title != name, "\(name) has no #: title line")
        for variable in profile.variables {
            #expect(!variable.description.isEmpty, "\(name): \(variable.name) has no description")
        }
        #expect(Set(profile.variables.map(\.name)).count == profile.variables.count, "a variable is declared twice")
    }

    @Test(arguments: names)
    func rendersToAPlainIPXEScript(name: String) throws {
        for callback in [nil, Self.callback] {
            let script = try Self.render(name, callback: callback)
            #expect(script.hasPrefix("#!ipxe\n"))
            #expect(!script.contains("{{") && !script.contains("}}"), "Mustache left in \(name)")
        }
    }

    @Test(arguments: names)
    func commentsHoldNoMustacheTags(name: String) throws {
        let source = try Self.profile(name).source
        for line in source.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
            #expect(!line.contains("{{"), "\(name): a tag in a comment is rendered too: \(line)")
        }
    }

    @Test(arguments: names)
    func everyTagIsDeclaredOrBuiltInAndEveryVariableUsed(name: String) throws {
        let profile = try Self.profile(name)
        let declared = Set(profile.variables.map(\.name))
        let used = Set(Self.tags(in: profile.source).map(\.name))
        for tag in used.sorted() {
            #expect(declared.contains(tag) || Self.builtIns.contains(tag), "\(name): {{\(tag)}} is not declared")
        }
        for variable in declared.sorted() {
            #expect(used.contains(variable), "\(name): \(variable) is declared but never used")
        }
        #expect(declared.isDisjoint(with: Self.builtIns), "\(name) declares a built-in, which it cannot override")
    }

    /// A variable without a default may be unset, so it is only inserted inside its own section.
    @Test(arguments: names)
    func variablesWithoutDefaultOnlyInsideTheirSection(name: String) throws {
        let profile = try Self.profile(name)
        let optional = Set(profile.variables.filter { $0.defaultValue == nil }.map(\.name))
        var open: [(sigil: Character?, name: String)] = []
        for tag in Self.tags(in: profile.source) {
            switch tag.sigil {
            case "#", "^": open.append(tag)
            case "/": _ = open.popLast()
            default:
                if optional.contains(tag.name) {
                    #expect(
                        open.contains { $0.sigil == "#" && $0.name == tag.name },
                        "\(name): {{\(tag.name)}} has no default and is used outside {{#\(tag.name)}}")
                }
            }
        }
        #expect(open.isEmpty, "\(name): unclosed sections")
    }

    @Test(arguments: names)
    func everyDownloadIsAnAbsoluteURL(name: String) throws {
        let site = ["console": "ttyS0,115200n8", "kernel_args": "quiet"]
        let scripts = try [Self.render(name), Self.render(name, site: site, callback: Self.callback)]
        for script in scripts {
            for command in Self.commands(in: script) where Self.downloading.contains(command.name) {
                let url = try #require(Self.target(of: command), "\(name): \(command.line)")
                #expect(
                    url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("${"),
                    "\(name): \(url) is neither an http(s) URL nor an iPXE setting")
                // An empty variable would leave an empty path segment behind.
                let path = url.drop { $0 != "/" }.dropFirst(2)
                #expect(!path.contains("//"), "\(name): \(url) has an empty path segment")
            }
        }
    }

    @Test(arguments: names)
    func downloadsAndBootsHandleFailure(name: String) throws {
        let script = try Self.render(name)
        for command in Self.commands(in: script)
        where Self.downloading.contains(command.name) || ["boot", "sanboot"].contains(command.name) {
            #expect(command.line.contains(" || "), "\(name): no error handling on: \(command.line)")
        }
    }

    @Test(arguments: names)
    func everyGotoHasItsLabel(name: String) throws {
        let source = try Self.profile(name).source
        let commands = Self.commands(in: source)
        let labels = Set(commands.filter { $0.name.hasPrefix(":") }.map { String($0.name.dropFirst()) })
        for command in commands where command.name == "goto" {
            let label = try #require(command.words.dropFirst().first, "\(name): goto without a label")
            if label.contains("${") { continue }  // computed at run time
            #expect(labels.contains(label), "\(name): goto \(label) has no :\(label)")
        }
    }

    // MARK: Linux kernels

    @Test(arguments: linuxProfiles)
    func namedInitrdIsOnTheKernelLine(name: String) throws {
        let script = try Self.render(name)
        let kernel = try Self.kernel(in: script)
        let initrds = Self.commands(in: script).filter { $0.name == "initrd" }
        #expect(!initrds.isEmpty, "\(name) loads no initrd")
        for initrd in initrds {
            let initrdName = try #require(Self.option("--name", of: initrd), "\(name): initrd without --name")
            #expect(kernel.words.contains("initrd=\(initrdName)"), "\(name): kernel line lacks initrd=\(initrdName)")
            #expect(Self.target(of: initrd)?.hasSuffix("/\(initrdName)") == true)
        }
    }

    @Test func debianBootsTheNetbootInstallerThroughVboot() throws {
        let script = try Self.render("debian")
        let kernel = try Self.kernel(in: script)
        let netboot = "dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64"
        #expect(Self.target(of: kernel) == "\(Self.server)/assets/debian/\(netboot)/linux")
        let initrd = try #require(Self.commands(in: script).first { $0.name == "initrd" })
        #expect(Self.option("--name", of: initrd) == "initrd.gz")
        #expect(Self.target(of: initrd) == "\(Self.server)/assets/debian/\(netboot)/initrd.gz")
        #expect(kernel.words.contains("initrd=initrd.gz"))
        // The upstream the path names: Debian's mirror, over HTTPS (vboot fetches, not iPXE).
        #expect(try Self.profile("debian").upstreams == [.init(name: "debian", url: "https://deb.debian.org/debian")])
    }

    struct MirrorProfile: Sendable, CustomTestStringConvertible {
        var name: String
        var upstream: String
        /// The mirror-relative part of the kernel's URL with the profile's defaults.
        var kernelPath: String
        var testDescription: String { name }
    }

    /// Every URL the machine is given goes through vboot (`{{assets}}/UPSTREAM/...`, a local copy
    /// or the profile's upstream): the same path under the upstream's URL is the mirror's file.
    /// With `mirror` set, no URL does.
    @Test(arguments: [
        MirrorProfile(
            name: "debian", upstream: "https://deb.debian.org/debian",
            kernelPath: "dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64/linux"),
        MirrorProfile(
            name: "fedora", upstream: "https://download.fedoraproject.org/pub/fedora/linux",
            kernelPath: "releases/43/Everything/x86_64/os/images/pxeboot/vmlinuz"),
        MirrorProfile(
            name: "alma", upstream: "https://repo.almalinux.org/almalinux",
            kernelPath: "9/BaseOS/x86_64/os/images/pxeboot/vmlinuz"),
        MirrorProfile(
            name: "alpine", upstream: "https://dl-cdn.alpinelinux.org/alpine",
            kernelPath: "v3.23/releases/x86_64/netboot/vmlinuz-lts"),
    ])
    func mirrorProfilesGoThroughVbootUnlessAMirrorIsSet(profile: MirrorProfile) throws {
        let name = try #require(Self.profile(profile.name).upstreams.first?.name)
        #expect(try Self.profile(profile.name).upstreams.map(\.url) == [profile.upstream])
        let through = "\(Self.server)/assets/\(name)"
        let script = try Self.render(profile.name)
        #expect(Self.target(of: try Self.kernel(in: script)) == "\(through)/\(profile.kernelPath)")
        let urls = Self.commands(in: script).flatMap(\.words).flatMap { $0.split(separator: "=") }.filter {
            $0.hasPrefix("http://") || $0.hasPrefix("https://")
        }
        #expect(!urls.isEmpty && urls.allSatisfy { $0 == through || $0.hasPrefix(through + "/") }, "\(urls)")

        let mirror = "http://mirror.lan/\(profile.name)"
        let direct = try Self.render(profile.name, site: ["mirror": mirror])
        #expect(Self.target(of: try Self.kernel(in: direct)) == "\(mirror)/\(profile.kernelPath)")
        #expect(!Self.commands(in: direct).contains { $0.line.contains("/assets/") }, "\(direct)")
    }

    @Test func debianCanLoadFromTheAssetsTree() throws {
        let script = try Self.render(
            "debian",
            machine: [
                "kernel_url": "\(Self.server)/assets/debian/linux",
                "initrd_url": "\(Self.server)/assets/debian/initrd.gz",
            ])
        let kernel = try Self.kernel(in: script)
        #expect(Self.target(of: kernel) == "\(Self.server)/assets/debian/linux")
        let initrd = try #require(Self.commands(in: script).first { $0.name == "initrd" })
        #expect(Self.target(of: initrd) == "\(Self.server)/assets/debian/initrd.gz")
        #expect(!script.contains("deb.debian.org/debian/dists"))
    }

    @Test(arguments: linuxProfiles)
    func callbackOnlyInAOneShotInstall(name: String) throws {
        let plain = try Self.render(name)
        let plainKernel = try Self.kernel(in: plain)
        #expect(!plainKernel.words.contains { $0.hasPrefix("vboot_done") })
        #expect(!plain.contains("/done?token="))

        let once = try Self.render(name, callback: Self.callback)
        let kernel = try Self.kernel(in: once)
        #expect(kernel.words.contains("vboot_done=\(Self.callback)"))
        #expect(once.components(separatedBy: Self.callback).count == 2, "the callback appears once, on the kernel line")
    }

    @Test func debianKeepsTheCallbackOutOfTheInstalledSystem() throws {
        let script = try Self.render("debian", machine: ["console": "ttyS0,115200n8"], callback: Self.callback)
        let words = try Self.kernel(in: script).words
        let separator = try #require(words.firstIndex(of: "---"))
        let callback = try #require(words.firstIndex(of: "vboot_done=\(Self.callback)"))
        let console = try #require(words.firstIndex(of: "console=ttyS0,115200n8"))
        #expect(callback < separator, "after --- it would be copied into the installed boot loader")
        #expect(console > separator, "before --- the installed system would lose its console")
    }

    struct OptionalArgument: Sendable, CustomTestStringConvertible {
        var profile: String
        var variable: String
        /// The kernel argument it turns into, up to its value.
        var argument: String
        var testDescription: String { "\(profile).\(variable)" }
    }

    @Test(arguments: [
        OptionalArgument(profile: "debian", variable: "preseed_url", argument: "url="),
        OptionalArgument(profile: "ubuntu", variable: "autoinstall_url", argument: "ds=nocloud-net;s="),
        OptionalArgument(profile: "fedora", variable: "kickstart_url", argument: "inst.ks="),
        OptionalArgument(profile: "alma", variable: "kickstart_url", argument: "inst.ks="),
        OptionalArgument(profile: "alpine", variable: "apkovl_url", argument: "apkovl="),
    ])
    func optionalArgumentOnlyWhenSet(optional: OptionalArgument) throws {
        let unset = try Self.kernel(in: Self.render(optional.profile)).words
        #expect(
            !unset.contains { $0.hasPrefix(optional.argument) }, "\(optional.argument) without \(optional.variable)")

        let value = "http://10.0.0.9/\(optional.profile)/answers"
        let set = try Self.kernel(in: Self.render(optional.profile, machine: [optional.variable: value])).words
        #expect(set.contains(optional.argument + value))
    }

    @Test func debianPreseedMakesAnAutomaticInstall() throws {
        let words = try Self.kernel(in: Self.render("debian", machine: ["preseed_url": "http://10.0.0.9/d.cfg"])).words
        #expect(words.contains("auto=true"))
        #expect(words.contains("priority=critical"))
        let interactive = try Self.kernel(in: Self.render("debian")).words
        #expect(!interactive.contains("auto=true"))
    }

    // MARK: Precedence

    @Test func machineVariableBeatsSiteVariableBeatsProfileDefault() throws {
        let profile = try Self.profile("debian")
        let suite = try #require(profile.defaults["suite"])
        func kernelURL(machine: [String: String]? = nil, site: [String: String] = [:]) throws -> String {
            let kernel = try Self.kernel(in: Self.render("debian", machine: machine, site: site))
            return try #require(Self.target(of: kernel))
        }
        #expect(try kernelURL().contains("/dists/\(suite)/"))
        #expect(try kernelURL(site: ["suite": "bullseye"]).contains("/dists/bullseye/"))
        #expect(try kernelURL(machine: ["suite": "trixie"]).contains("/dists/trixie/"))
        #expect(try kernelURL(machine: ["suite": "trixie"], site: ["suite": "bullseye"]).contains("/dists/trixie/"))
    }

    @Test func builtInsCannotBeOverridden() throws {
        let script = try Self.render(
            "ubuntu", machine: ["assets": "http://evil.example", "mac": "00-00-00-00-00-00"],
            site: ["assets": "http://evil.example"])
        let kernel = try Self.kernel(in: script)
        #expect(Self.target(of: kernel) == "\(Self.server)/assets/ubuntu/casper/vmlinuz")
        #expect(script.contains(Self.mac))
        #expect(!script.contains("evil.example") && !script.contains("00-00-00-00-00-00"))
    }

    // MARK: Profiles vboot itself serves

    @Test func localBootsTheDiskOnBothFirmwareFamilies() throws {
        let commands = try Self.commands(in: Self.render("local"))
        #expect(commands.contains { $0.words == ["iseq", "${platform}", "efi"] })
        #expect(commands.contains { $0.words == ["sanboot", "--no-describe", "--drive", "0x80"] })
        #expect(commands.contains { $0.words == ["exit", "1"] }, "UEFI needs a failure status to try the next entry")
        let second = try Self.commands(in: Self.render("local", machine: ["bios_drive": "0x81"]))
        #expect(second.contains { $0.words == ["sanboot", "--no-describe", "--drive", "0x81"] })
    }

    @Test func shellComesBackToVboot() throws {
        let commands = try Self.commands(in: Self.render("shell"))
        #expect(commands.contains { $0.name == "shell" })
        let chain = try #require(commands.first { $0.name == "chain" })
        #expect(Self.target(of: chain)?.hasPrefix("\(Self.server)/boot.ipxe?mac=\(Self.mac)&") == true)
    }
}
