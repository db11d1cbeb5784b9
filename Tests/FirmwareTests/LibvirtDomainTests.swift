import Firmware
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Domain XML fixtures (Fixtures/libvirt/) and the XML read back from them.
enum LibvirtFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/libvirt")

    static let domains = ["q35-disk-boot-order", "os-boot-dev", "two-interfaces", "firmware-efi"]

    static func xml(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("\(name).xml"), encoding: .utf8)
    }

    static let injection = LibvirtInjection(
        romPath: "/var/lib/vboot/rom/ipxe-virtio.efirom", ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd")

    /// The output parsed by an independent parser (libxml2 through FoundationXML), for XPath checks.
    static func parse(_ xml: String) throws -> XMLDocument {
        try XMLDocument(xmlString: xml, options: [])
    }
}

extension XMLDocument {
    /// String values of the nodes an XPath selects (attributes give their value, elements their text).
    func values(_ xpath: String) throws -> [String] {
        try nodes(forXPath: xpath).map { $0.stringValue ?? "" }
    }

    func value(_ xpath: String) throws -> String? {
        try values(xpath).first
    }
}

/// `virt-xml-validate` (package libvirt-clients) is a shell script around `xmllint` (libxml2-utils) and
/// libvirt's RelaxNG schemas (libvirt0, pulled in by libvirt-clients).
enum LibvirtSchema {
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static let available = executable("virt-xml-validate") != nil && executable("xmllint") != nil

    /// Runs `virt-xml-validate FILE domain`; returns its output when it fails, nil when the XML is valid.
    static func problems(_ xml: String) throws -> String? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vboot-domain-\(UUID().uuidString).xml")
        try Data(xml.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable("virt-xml-validate")!)
        process.arguments = [file.path, "domain"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : output
    }
}

@Suite("libvirt domain: ROM injection")
struct LibvirtDomainTests {
    typealias Fixture = LibvirtFixture

    @Test func q35DiskWithBootOrderOneMovesBehindTheNIC() throws {
        let edit = try LibvirtDomain.edit(Fixture.injection, try Fixture.xml("q35-disk-boot-order"))
        let doc = try Fixture.parse(edit.xml)

        #expect(try doc.value("/domain/devices/interface/rom/@file") == Fixture.injection.romPath)
        #expect(try doc.value("/domain/devices/interface/boot/@order") == "1")
        #expect(try doc.value("/domain/devices/disk[target/@dev='vda']/boot/@order") == "2")
        #expect(try doc.value("/domain/devices/disk[target/@dev='sda']/boot/@order") == "3")
        // <boot> and <rom> go before <address>, where libvirt writes them.
        #expect(try doc.nodes(forXPath: "/domain/devices/interface/*").count == 6)
        #expect(try doc.nodes(forXPath: "/domain/devices/interface/address/preceding-sibling::rom").count == 1)

        #expect(try doc.value("/domain/os/type") == "hvm")
        #expect(try doc.value("/domain/os/type/@machine") == "pc-q35-7.2")
        #expect(try doc.value("/domain/os/loader") == Fixture.injection.ovmfCode)
        #expect(try doc.value("/domain/os/loader/@readonly") == "yes")
        #expect(try doc.value("/domain/os/loader/@type") == "pflash")
        #expect(try doc.value("/domain/os/nvram/@template") == Fixture.injection.varsTemplate)
        #expect(try doc.value("/domain/os/nvram") == "")
        #expect(try doc.nodes(forXPath: "/domain/os/*").count == 3)

        #expect(
            edit.changes.contains(.bootOrder(device: "disk vda", from: 1, to: 2))
                && edit.changes.contains(.bootOrder(device: "disk sda", from: 2, to: 3))
                && edit.changes.contains(.bootOrder(device: "interface 52:54:00:6b:3c:01", from: nil, to: 1)))
    }

    @Test func everythingOutsideOSAndDevicesIsKeptByteForByte() throws {
        let input = try Fixture.xml("q35-disk-boot-order")
        let output = try LibvirtDomain.inject(Fixture.injection, into: input)
        let head = try #require(input.range(of: "  <os>")).lowerBound
        #expect(
            output[..<output.index(output.startIndex, offsetBy: input.distance(from: input.startIndex, to: head))]
                == input[..<head])
        let features = try #require(input.range(of: "  <features>")).lowerBound
        let devices = try #require(input.range(of: "  <devices>")).lowerBound
        #expect(output.contains(input[features..<devices]))
        #expect(output.contains("    <!-- the NIC vboot answers on -->\n    <interface type='network'>"))
        #expect(output.contains("<libosinfo:os id=\"http://debian.org/debian/12\"/>"))
        // New elements are indented like their siblings.
        #expect(
            output.contains("\n      <boot order='1'/>\n      <rom file='/var/lib/vboot/rom/ipxe-virtio.efirom'/>\n"))
        #expect(
            output.contains(
                "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
                    + "    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n"
                    + "    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>\n  </os>"))
    }

    @Test func explicitBootOrderKeepsLowerOrdersAndShiftsOnlyWhatCollides() throws {
        var injection = Fixture.injection
        injection.bootOrder = 2
        let doc = try Fixture.parse(try LibvirtDomain.inject(injection, into: try Fixture.xml("q35-disk-boot-order")))
        #expect(try doc.value("/domain/devices/disk[target/@dev='vda']/boot/@order") == "1")
        #expect(try doc.value("/domain/devices/interface/boot/@order") == "2")
        #expect(try doc.value("/domain/devices/disk[target/@dev='sda']/boot/@order") == "3")
    }

    @Test func osBootDevBecomesPerDeviceOrderAfterTheNIC() throws {
        let edit = try LibvirtDomain.edit(Fixture.injection, try Fixture.xml("os-boot-dev"))
        let doc = try Fixture.parse(edit.xml)

        #expect(try doc.nodes(forXPath: "/domain/os/boot").isEmpty)
        #expect(try doc.value("/domain/os/bootmenu/@enable") == "yes")
        #expect(try doc.value("/domain/devices/interface/boot/@order") == "1")
        // <boot dev='hd'/> then 'cdrom': the disk, then the CD-ROM, after the NIC.
        #expect(try doc.value("/domain/devices/disk[@device='disk']/boot/@order") == "2")
        #expect(try doc.value("/domain/devices/disk[@device='cdrom']/boot/@order") == "3")
        // bar='off' hides the ROM from OVMF: removed, not kept.
        #expect(try doc.nodes(forXPath: "/domain/devices/interface/rom/@bar").isEmpty)
        #expect(try doc.value("/domain/devices/interface/rom/@file") == Fixture.injection.romPath)

        #expect(edit.changes.contains(.osBootRemoved(["hd", "cdrom"])))
        #expect(edit.changes.contains(.romReenabled(interface: "interface 52:54:00:0a:0b:0c", removed: ["bar='off'"])))
        // The document's double quotes stay; new attributes use libvirt's single quotes.
        #expect(edit.xml.contains("<rom file='/var/lib/vboot/rom/ipxe-virtio.efirom'/>"))
        #expect(edit.xml.contains("<type arch=\"x86_64\" machine=\"q35\">hvm</type>"))
    }

    @Test func selectingOneOfTwoInterfacesByMAC() throws {
        var injection = Fixture.injection
        injection.interfaces = .macs(["52-54-00-22-22-22".uppercased()])
        injection.nvramPath = "/var/lib/vboot/nvram/two-nics_VARS.fd"
        let edit = try LibvirtDomain.edit(injection, try Fixture.xml("two-interfaces"))
        let doc = try Fixture.parse(edit.xml)

        let provisioning = "/domain/devices/interface[mac/@address='52:54:00:22:22:22']"
        let management = "/domain/devices/interface[mac/@address='52:54:00:11:11:11']"
        #expect(try doc.value("\(provisioning)/rom/@file") == injection.romPath)
        #expect(try doc.nodes(forXPath: "\(provisioning)/rom").count == 1)
        #expect(try doc.value("\(provisioning)/boot/@order") == "1")
        #expect(try doc.nodes(forXPath: "\(management)/rom").isEmpty)
        #expect(try doc.value("\(management)/boot/@order") == "2")
        #expect(try doc.value("/domain/devices/disk/boot/@order") == "3")
        let orders = try doc.values("//boot/@order")
        #expect(Set(orders).count == orders.count)

        #expect(try doc.nodes(forXPath: "/domain/os/loader").count == 1)
        #expect(try doc.value("/domain/os/loader") == injection.ovmfCode)
        #expect(try doc.nodes(forXPath: "/domain/os/nvram").count == 1)
        #expect(try doc.value("/domain/os/nvram") == injection.nvramPath)
        #expect(try doc.value("/domain/os/nvram/@template") == injection.varsTemplate)
        #expect(
            edit.changes.contains(
                .romSet(interface: "interface 52:54:00:22:22:22", previous: "/usr/share/qemu/efi-virtio.rom")))
        // The qemu: namespace and its elements survive.
        #expect(edit.xml.contains("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"))
        #expect(try doc.nodes(forXPath: "/domain/*[local-name()='commandline']/*").count == 2)
    }

    @Test func firmwareAutoselectionGivesWayToTheExplicitLoader() throws {
        let edit = try LibvirtDomain.edit(Fixture.injection, try Fixture.xml("firmware-efi"))
        let doc = try Fixture.parse(edit.xml)

        #expect(try doc.nodes(forXPath: "/domain/os/@firmware").isEmpty)
        #expect(try doc.nodes(forXPath: "/domain/os/firmware").isEmpty)
        #expect(try doc.value("/domain/os/loader") == Fixture.injection.ovmfCode)
        #expect(try doc.value("/domain/os/loader/@secure") == "no")
        #expect(try doc.value("/domain/os/loader/@type") == "pflash")
        // No path requested: the domain's own VARS file stays, with the new template.
        #expect(try doc.value("/domain/os/nvram") == "/var/lib/libvirt/qemu/nvram/autoselect_VARS.fd")
        #expect(try doc.value("/domain/os/nvram/@template") == Fixture.injection.varsTemplate)
        #expect(try doc.nodes(forXPath: "/domain/os/boot").isEmpty)
        // <boot dev='network'/> named the selected NIC already; 'hd' puts the disk behind it.
        #expect(try doc.value("/domain/devices/interface/boot/@order") == "1")
        #expect(try doc.value("/domain/devices/disk/boot/@order") == "2")
        #expect(try doc.nodes(forXPath: "/domain/devices/interface/rom/@enabled").isEmpty)
        #expect(try doc.value("/domain/devices/interface/rom/@file") == Fixture.injection.romPath)

        #expect(edit.changes.contains(.firmwareAutoselectionRemoved("efi")))
        #expect(edit.changes.contains(.firmwareFeaturesRemoved))
        #expect(
            edit.changes.contains(.romReenabled(interface: "interface 52:54:00:ef:00:01", removed: ["enabled='no'"])))
        #expect(edit.xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<domain type='kvm'>"))
    }

    @Test(arguments: LibvirtFixture.domains)
    func injectingTwiceChangesNothingMore(fixture: String) throws {
        let once = try LibvirtDomain.inject(Fixture.injection, into: try Fixture.xml(fixture))
        #expect(try LibvirtDomain.inject(Fixture.injection, into: once) == once)
    }

    @Test func injectFileInPlaceAndToANewFileKeepsTheMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vboot-libvirt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("domain.xml").path
        try Data(try Fixture.xml("q35-disk-boot-order").utf8).write(to: URL(fileURLWithPath: input))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: input)

        let output = directory.appendingPathComponent("injected.xml").path
        try LibvirtDomain.injectFile(Fixture.injection, path: input, output: output)
        #expect(try String(contentsOfFile: input, encoding: .utf8) == (try Fixture.xml("q35-disk-boot-order")))
        let expected = try LibvirtDomain.inject(Fixture.injection, into: try Fixture.xml("q35-disk-boot-order"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == expected)

        let edit = try LibvirtDomain.injectFile(Fixture.injection, path: input, output: nil)
        #expect(try String(contentsOfFile: input, encoding: .utf8) == expected)
        #expect(edit.xml == expected)
        let mode = try FileManager.default.attributesOfItem(atPath: input)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == [
                "domain.xml", "injected.xml",
            ])
    }
}

@Suite("libvirt domain: refusals")
struct LibvirtDomainErrorTests {
    typealias Fixture = LibvirtFixture

    func failure(_ xml: String, _ injection: LibvirtInjection = Fixture.injection) -> LibvirtDomainError? {
        do {
            _ = try LibvirtDomain.edit(injection, xml)
            return nil
        } catch {
            return error
        }
    }

    @Test func notADomain() throws {
        let error = failure(try Fixture.xml("not-a-domain"))
        #expect(error == .notADomain(root: "network"))
        #expect(
            error?.description == "not a libvirt domain definition: the root element is <network>, expected <domain>")
    }

    @Test func malformedXMLNamesTheLine() throws {
        let error = failure(try Fixture.xml("malformed"))
        #expect(
            error == .malformedXML(line: 9, column: 5, detail: "</devices> does not match <interface> opened at line 7")
        )
    }

    @Test(arguments: [
        ("", 1, "no root element"),
        ("not xml", 1, "text before the root element"),
        ("<domain>\n  <name>x</name>\n", 1, "<domain> is not closed (end of document reached)"),
        ("<domain>\n<name>a &nbsp; b</name></domain>", 2, "undefined entity &nbsp; (libvirt XML has no DTD)"),
        ("<domain>\n<name>a & b</name></domain>", 2, "'&' that does not start a reference (write &amp;)"),
        ("<domain type='kvm' type='qemu'/>", 1, "attribute type appears twice in <domain>"),
        ("<domain type=kvm/>", 1, "the value of attribute type is not quoted"),
        ("<domain/>\n<domain/>", 2, "content after the end of the root element </domain>"),
        ("<domain><!-- a -- b --></domain>", 1, "'--' inside a comment"),
    ])
    func malformedInputIsReportedNotCrashedOn(xml: String, line: Int, detail: String) {
        guard case .malformedXML(let reportedLine, _, let reportedDetail) = failure(xml) else {
            Issue.record("expected malformedXML for \(xml.debugDescription)")
            return
        }
        #expect(reportedLine == line)
        #expect(reportedDetail == detail)
    }

    @Test func missingMACListsTheInterfacesFound() throws {
        var injection = Fixture.injection
        injection.interfaces = .macs(["52:54:00:22:22:22", "52:54:00:99:99:99"])
        let error = failure(try Fixture.xml("two-interfaces"), injection)
        #expect(
            error
                == .noMatchingInterface(
                    missing: ["52:54:00:99:99:99"], found: ["52:54:00:11:11:11", "52:54:00:22:22:22"]))
        #expect(
            error?.description
                == "no <interface> with MAC 52:54:00:99:99:99; the domain's interfaces: 52:54:00:11:11:11, 52:54:00:22:22:22"
        )
    }

    @Test func domainWithoutInterfaces() {
        let xml =
            "<domain type='kvm'><name>x</name><os><type>hvm</type></os><devices><disk device='disk'/></devices></domain>"
        #expect(failure(xml) == .noMatchingInterface(missing: [], found: []))
    }

    @Test func missingDevicesAndOS() {
        #expect(
            failure("<domain><name>x</name><os><type>hvm</type></os></domain>")
                == .missingElement("devices", in: "domain"))
        #expect(failure("<domain><name>x</name><devices/></domain>") == .missingElement("os", in: "domain"))
    }

    @Test func paravirtualGuestIsRefused() {
        let xml =
            "<domain type='xen'><name>x</name><os><type>linux</type></os><devices><interface type='bridge'/></devices></domain>"
        #expect(failure(xml) == .notHVM(osType: "linux"))
    }

    @Test func invalidInjectionValues() throws {
        let xml = try Fixture.xml("q35-disk-boot-order")
        var relative = Fixture.injection
        relative.romPath = "bin-x86_64-efi/ipxe.efirom"
        #expect(
            failure(xml, relative)
                == .invalidInjection(
                    field: "ROM path",
                    detail: "'bin-x86_64-efi/ipxe.efirom' is not an absolute path (QEMU opens it, not vboot)"))
        var zero = Fixture.injection
        zero.bootOrder = 0
        #expect(failure(xml, zero) == .invalidInjection(field: "boot order", detail: "0 is not a positive integer"))
        var badMAC = Fixture.injection
        badMAC.interfaces = .macs(["52:54:00:12:34"])
        #expect(
            failure(xml, badMAC)
                == .invalidInjection(
                    field: "MAC", detail: "'52:54:00:12:34' is not a MAC address like 52:54:00:12:34:56"))
    }

    @Test func garbageBootOrderIsReported() {
        let xml = """
            <domain><name>x</name><os><type>hvm</type></os><devices>
            <disk device='disk'><target dev='vda'/><boot order='first'/></disk><interface type='user'/></devices></domain>
            """
        #expect(failure(xml) == .invalidBootOrder(device: "disk vda", value: "first"))
    }
}

/// Every output must still be a domain libvirt accepts: checked with libvirt's own RelaxNG schema.
@Suite(
    "libvirt domain: schema validation",
    .enabled(
        if: LibvirtSchema.available,
        "needs virt-xml-validate and xmllint: apt-get install libvirt-clients libxml2-utils"))
struct LibvirtDomainSchemaTests {
    typealias Fixture = LibvirtFixture

    static let variants: [(String, LibvirtInjection)] = {
        var byMAC = LibvirtFixture.injection
        byMAC.interfaces = .macs(["52:54:00:22:22:22"])
        byMAC.nvramPath = "/var/lib/vboot/nvram/two-nics_VARS.fd"
        var later = LibvirtFixture.injection
        later.bootOrder = 2
        return LibvirtFixture.domains.map { ($0, LibvirtFixture.injection) } + [
            ("two-interfaces", byMAC), ("q35-disk-boot-order", later),
        ]
    }()

    @Test(arguments: LibvirtFixture.domains)
    func fixturesAreValidDomains(fixture: String) throws {
        #expect(try LibvirtSchema.problems(try Fixture.xml(fixture)) == nil)
    }

    @Test(arguments: 0..<variants.count)
    func everyOutputValidates(variant: Int) throws {
        let (fixture, injection) = Self.variants[variant]
        let output = try LibvirtDomain.inject(injection, into: try Fixture.xml(fixture))
        let problems = try LibvirtSchema.problems(output)
        #expect(problems == nil, "\(fixture): \(problems ?? "")")
    }
}

@Suite("libvirt XML: faithful round trip")
struct LibvirtXMLRoundTripTests {
    /// An injection into a domain that already has exactly the injected values changes no byte.
    @Test func alreadyInjectedDomainIsUnchanged() throws {
        let xml = """
            <?xml version="1.0"?>
            <!-- kept -->
            <domain type="kvm" >
              <name>done &amp; dusted</name>
              <os>
                <type>hvm</type>
                <loader readonly='yes' type='pflash'>/ovmf/CODE.fd</loader>
                <nvram template='/ovmf/VARS.fd'/>
              </os>
              <devices>
                <interface type = "user"><mac address="52:54:00:00:00:01" /><rom file='/rom/ipxe.efirom'/><boot order='1'/></interface>
                <![CDATA[ odd <but> legal ]]>
                <?vboot note?>
              </devices>
            </domain>
            <!-- trailing -->

            """
        let injection = LibvirtInjection(
            romPath: "/rom/ipxe.efirom", ovmfCode: "/ovmf/CODE.fd", varsTemplate: "/ovmf/VARS.fd")
        #expect(try LibvirtDomain.inject(injection, into: xml) == xml)
    }

    @Test func specialCharactersInPathsAreEscaped() throws {
        let injection = LibvirtInjection(
            romPath: "/roms/it's <new> & \"quoted\".efirom", ovmfCode: "/ovmf/a&b.fd", varsTemplate: "/ovmf/VARS.fd")
        let xml = "<domain><name>x</name><os><type>hvm</type></os><devices><interface type='user'/></devices></domain>"
        let doc = try LibvirtFixture.parse(try LibvirtDomain.inject(injection, into: xml))
        #expect(try doc.value("/domain/devices/interface/rom/@file") == injection.romPath)
        #expect(try doc.value("/domain/os/loader") == injection.ovmfCode)
    }
}
