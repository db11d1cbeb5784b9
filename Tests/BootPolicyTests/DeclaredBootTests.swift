import DHCPv4
import Foundation
import Testing

@testable import BootPolicy

/// Declarative profiles: parsed from their `#:` lines, rendered for iPXE and for GRUB.
@Suite("declarative profiles")
struct DeclaredBootTests {
    static let source = """
        #: title Test installer
        #: var asset_dir = debian-12 -- where the files are
        #: var console -- serial console
        # a comment
        #: kernel {{assets}}/{{asset_dir}}/linux
        #: initrd {{assets}}/{{asset_dir}}/initrd.gz
        #: initrd {{assets}}/{{asset_dir}}/firmware.cpio.gz
        #: args {{#done_url}}vboot_done={{done_url}}{{/done_url}} ---
        #: args {{#console}}console={{console}}{{/console}}
        #: ipxe echo only iPXE runs this
        #: grub echo 'only GRUB runs this'
        """

    static let server = "http://10.77.0.2:8080"

    static func boot(_ source: String = source) throws -> DeclaredBoot {
        let profile = try Profile(name: "test", source: source, declarative: true)
        let declaration = try #require(profile.declaration)
        return try DeclaredBoot(name: "test", title: profile.title, declaration: declaration)
    }

    static func context(_ variables: [String: String] = [:], callback: String? = nil) -> BootScriptContext {
        BootScriptContext(mac: "52-54-00-12-34-56", serverURL: server, query: [:])
            .merging(
                machine: nil, profileDefaults: ["asset_dir": "debian-12"], siteVariables: variables,
                callbackURL: callback)
    }

    // MARK: Parsing

    @Test func headerLinesDeclareTheBoot() throws {
        let profile = try Profile(name: "test", source: Self.source, declarative: true)
        let declaration = try #require(profile.declaration)
        #expect(profile.title == "Test installer")
        #expect(profile.variables.map(\.name) == ["asset_dir", "console"])
        #expect(declaration.kernel == "{{assets}}/{{asset_dir}}/linux")
        #expect(declaration.initrds.count == 2)
        #expect(declaration.arguments.count == 2)
        #expect(declaration.ipxeLines == ["echo only iPXE runs this"])
        #expect(declaration.grubLines == ["echo 'only GRUB runs this'"])
    }

    @Test func aScriptProfileHasNoDeclaration() throws {
        #expect(try Profile(name: "x", source: "#!ipxe\n#: title X\nshell\n").declaration == nil)
    }

    @Test(arguments: [
        ("#: title X\n#: initrd a\n", 1, "needs a #: kernel line"),
        ("#: kernel a\n#: kernel b\n", 2, "a second kernel line"),
        ("#: kernel a\nkernel b\n", 2, "only #: lines and # comments"),
        ("#: kernel\n", 1, "needs a value"),
        ("#: kernel a\n#: chain b\n", 2, "unknown header \"chain\""),
    ])
    func badDeclarationsSayWhereAndWhy(source: String, line: Int, reason: String) {
        #expect {
            try Profile(name: "bad", source: source, declarative: true)
        } throws: { error in
            guard let error = error as? Profile.HeaderError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }

    @Test func aDeclarationInAScriptProfileIsRefused() {
        #expect {
            try Profile(name: "mixed", source: "#!ipxe\n#: kernel http://x/linux\nboot\n")
        } throws: { error in
            (error as? Profile.HeaderError)?.reason.contains("mixed.profile") == true
        }
    }

    // MARK: iPXE

    @Test func ipxeScriptLoadsTheKernelWithNamedInitrds() throws {
        let script = try Self.boot().ipxeScript(Self.context(["console": "ttyS0,115200n8"]))
        let lines = script.split(separator: "\n").map(String.init)
        #expect(lines.first == "#!ipxe")
        #expect(lines.contains("echo only iPXE runs this"))
        #expect(
            lines.contains(
                "kernel \(Self.server)/assets/debian-12/linux initrd=initrd.gz initrd=firmware.cpio.gz --- console=ttyS0,115200n8 || goto failed"
            ))
        #expect(lines.contains("initrd --name initrd.gz \(Self.server)/assets/debian-12/initrd.gz || goto failed"))
        #expect(
            lines.contains(
                "initrd --name firmware.cpio.gz \(Self.server)/assets/debian-12/firmware.cpio.gz || goto failed"))
        #expect(lines.contains("boot || goto failed"))
        #expect(!script.contains("only GRUB"))
    }

    @Test func ipxeScriptCarriesTheCallbackOnlyWhenThereIsOne() throws {
        let callback = "\(Self.server)/api/v1/machines/52-54-00-12-34-56/done?token=abc"
        #expect(try Self.boot().ipxeScript(Self.context(callback: callback)).contains("vboot_done=\(callback) ---"))
        #expect(try !Self.boot().ipxeScript(Self.context()).contains("vboot_done"))
    }

    // MARK: GRUB

    @Test func grubConfigLoadsFromTheAssetsTreeOverTFTP() throws {
        let config = try Self.boot().grubConfig(Self.context(["console": "ttyS0,115200n8"])).get()
        let lines = config.split(separator: "\n").map(String.init)
        #expect(lines.contains("linux '/debian-12/linux' '---' 'console=ttyS0,115200n8'"))
        #expect(lines.contains("initrd '/debian-12/initrd.gz' '/debian-12/firmware.cpio.gz'"))
        #expect(lines.contains("echo 'only GRUB runs this'"))
        #expect(lines.contains("boot"))
        #expect(!config.contains("only iPXE"))
        #expect(!config.contains("initrd="), "GRUB hands the initrd over itself")
    }

    @Test func grubRefusesWhatItCannotFetch() throws {
        let boot = try Self.boot("#: kernel http://deb.debian.org/debian/linux\n")
        let refusal = try #require(boot.grubConfig(Self.context()).failure)
        #expect(refusal.description.contains("http://deb.debian.org/debian/linux"))
        #expect(refusal.description.contains("assets"))
    }

    /// A value a machine's variables carry cannot add a GRUB command, expand a GRUB variable or
    /// break out of its argument: every word is single quoted, newlines split words.
    @Test(arguments: [
        "x'; reboot; echo '",
        "x\nreboot",
        "$(reboot) ${prefix} `reboot`",
        "a\"b;c|d&e>f<g",
        "x'\\''; reboot",
    ])
    func aValueCannotAddGRUBCommands(value: String) throws {
        let config = try Self.boot().grubConfig(Self.context(["console": value])).get()
        let benign = try Self.boot().grubConfig(Self.context(["console": "ttyS0"])).get()
        let lines = config.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == benign.split(separator: "\n", omittingEmptySubsequences: false).count)
        let linux = try #require(lines.first { $0.hasPrefix("linux ") })
        let words = try Self.grubWords(String(linux))
        #expect(words.first == "linux")
        // What GRUB reads back is the value's own words (split where the value has whitespace),
        // nothing else.
        let own = ("console=" + value).components(separatedBy: .whitespacesAndNewlines).filter { !$0.isEmpty }
        #expect(Array(words.dropFirst()) == ["/debian-12/linux", "---"] + own)
    }

    /// GRUB's (and the shell's) word splitting for a line of single-quoted words, as GRUB reads
    /// it: `'...'` literal, `\\x` outside quotes is x, unquoted `;`, newline or `$` would be special.
    static func grubWords(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted {
                if character == "'" { quoted = false } else { current.append(character) }
            } else if character == "'" {
                quoted = true
                inWord = true
            } else if character == "\\" {
                escaped = true
                inWord = true
            } else if character == " " {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                try #require(!";\n$|&<>`\"".contains(character), "unquoted \(character) in \(line)")
                current.append(character)
                inWord = true
            }
        }
        try #require(!quoted && !escaped, "unterminated quote in \(line)")
        if inWord { words.append(current) }
        return words
    }

    // MARK: Shipped

    static let shipped: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: ShippedProfileTests.directory.path)) ?? []
        return files.filter { $0.hasSuffix(Profile.declarativeExtension) }
            .map { String($0.dropLast(Profile.declarativeExtension.count)) }.sorted()
    }()

    @Test func debianNetbootIsShippedDeclarative() {
        #expect(Self.shipped.contains("debian-netboot"))
    }

    /// Every shipped declarative profile renders for both loaders, GRUB from the assets tree.
    @Test(arguments: shipped)
    func shippedProfilesRenderForBothLoaders(name: String) throws {
        let url = ShippedProfileTests.directory.appendingPathComponent(name + Profile.declarativeExtension)
        let profile = try Profile(name: name, source: try String(contentsOf: url, encoding: .utf8), declarative: true)
        let boot = try DeclaredBoot(name: name, title: profile.title, declaration: try #require(profile.declaration))
        let context = BootScriptContext(mac: "52-54-00-12-34-56", serverURL: Self.server, query: [:])
            .merging(
                machine: nil, profileDefaults: profile.defaults, siteVariables: ["console": "ttyS0,115200n8"],
                callbackURL: "\(Self.server)/api/v1/machines/52-54-00-12-34-56/done?token=abc")
        let script = boot.ipxeScript(context)
        #expect(script.contains("kernel \(Self.server)/assets/"))
        let config = try boot.grubConfig(context).get()
        #expect(config.contains("linux '/"))
        if profile.declaration?.arguments.contains(where: { $0.contains("done_url") }) == true {
            #expect(config.contains("'vboot_done=\(Self.server)/api/v1/machines/52-54-00-12-34-56/done?token=abc'"))
        }
        #expect(config.contains("'console=ttyS0,115200n8'"))
    }

    /// Twenty machines, one image: each gets the shared files and its own name from the inventory.
    @Test func disklessGivesEachMachineItsNameAndTheSharedImage() throws {
        let url = ShippedProfileTests.directory.appendingPathComponent("diskless" + Profile.declarativeExtension)
        let profile = try Profile(
            name: "diskless", source: try String(contentsOf: url, encoding: .utf8), declarative: true)
        let boot = try DeclaredBoot(
            name: "diskless", title: profile.title, declaration: try #require(profile.declaration))
        let machine = Machine(mac: try #require(HardwareAddress("52:54:00:12:34:56")), hostname: "lab-07")
        let context = BootScriptContext(mac: "52-54-00-12-34-56", serverURL: Self.server, query: [:])
            .merging(machine: machine, profileDefaults: profile.defaults, siteVariables: ["image": "room-b"])
        let script = boot.ipxeScript(context)
        #expect(script.contains("kernel \(Self.server)/assets/images/room-b/vmlinuz "))
        #expect(script.contains(" \(Self.server)/assets/images/room-b/initrd.img"))
        #expect(script.contains(" boot=live fetch=\(Self.server)/assets/images/room-b/filesystem.squashfs ip=dhcp"))
        #expect(script.contains(" systemd.hostname=lab-07"))
        #expect(!script.contains("console="))
        let config = try boot.grubConfig(context).get()
        #expect(config.contains("linux '/images/room-b/vmlinuz'"))
        #expect(config.contains("'systemd.hostname=lab-07'"))
        // No name in the inventory: no systemd.hostname (the machine keeps the image's).
        let unnamed = boot.ipxeScript(
            BootScriptContext(mac: "52-54-00-12-34-56", serverURL: Self.server, query: [:])
                .merging(machine: nil, profileDefaults: profile.defaults))
        #expect(!unnamed.contains("systemd.hostname"))
        #expect(unnamed.contains("/assets/images/lab/filesystem.squashfs"))
    }

    /// The root on vboot's NBD server: the machine's own export with this boot's token, at the
    /// server's address alone.
    @Test func disklessNBDNamesTheMachinesOwnExport() throws {
        let url = ShippedProfileTests.directory.appendingPathComponent("diskless-nbd" + Profile.declarativeExtension)
        let profile = try Profile(
            name: "diskless-nbd", source: try String(contentsOf: url, encoding: .utf8), declarative: true)
        let boot = try DeclaredBoot(
            name: "diskless-nbd", title: profile.title, declaration: try #require(profile.declaration))
        let machine = Machine(mac: try #require(HardwareAddress("52:54:00:12:34:56")), hostname: "lab-07")
        let token = String(repeating: "0a", count: 24)
        let context = BootScriptContext(
            mac: "52-54-00-12-34-56", serverURL: "http://10.0.0.2:8080", query: [:], bootToken: token
        ).merging(machine: machine, profileDefaults: profile.defaults)
        let script = boot.ipxeScript(context)
        #expect(
            script.contains(" root=/dev/nbd0 nbdroot=10.0.0.2:10809/lab/52-54-00-12-34-56/\(token) ip=dhcp rw"),
            "\(script)")
        #expect(script.contains("kernel http://10.0.0.2:8080/assets/images/lab/vmlinuz "))
        #expect(script.contains(" systemd.hostname=lab-07"))
        #expect(BootScriptContext.host(of: "http://[fd00::2]:8080") == "fd00::2")
        #expect(BootScriptContext.host(of: "https://boot.example") == "boot.example")
    }

    @Test func quotingRoundTrips() throws {
        for word in ["plain", "it's", "''", "a b", "$x", ""] {
            #expect(try Self.grubWords("echo " + GRUBScript.quoted(word)) == ["echo", word])
        }
    }

    @Test func wordsDropControlCharacters() {
        #expect(GRUBScript.words("a\u{7}b\tc\r\nd \u{1B}[0m") == ["ab", "c", "d", "[0m"])
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}
