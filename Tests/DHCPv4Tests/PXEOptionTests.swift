import DHCPv4
import NIOCore
import Testing

@Suite("PXE vendor options (43)")
struct PXEVendorOptionTests {
    @Test("Discovery control, boot servers, menu and prompt encode as PXE 2.1 sub-options")
    func encodeServerSuboptions() throws {
        var pxe = PXEVendorOptions()
        pxe.discoveryControl = [.disableBroadcast, .disableMulticast, .skipDiscovery]
        pxe.set(
            .bootServers,
            PXEBootServer.encode([
                PXEBootServer(type: 0x8000, addresses: [IPv4Address(10, 77, 0, 1), IPv4Address(10, 77, 0, 2)])
            ]))
        pxe.set(.bootMenu, PXEMenuItem.encode([PXEMenuItem(type: 0x8000, description: "vboot")]))
        pxe.set(.menuPrompt, PXEMenuPrompt(timeout: 0, prompt: "PXE").encode())

        let expected: [UInt8] =
            [
                6, 1,  // PXE_DISCOVERY_CONTROL, length 1
                0b0000_1011,  // no broadcast (0), no multicast (1), use boot file (3)
                8, 11,  // PXE_BOOT_SERVERS, length 11
                0x80, 0x00,  //   server type 0x8000
                2,  //   two addresses
                10, 77, 0, 1,  //   10.77.0.1
                10, 77, 0, 2,  //   10.77.0.2
                9, 8,  // PXE_BOOT_MENU, length 8
                0x80, 0x00,  //   item type 0x8000
                5,  //   description length 5
            ] + ascii("vboot") + [  //   "vboot"
                10, 4,  // PXE_MENU_PROMPT, length 4
                0,  //   timeout 0: boot the first item at once
            ] + ascii("PXE") + [  //   "PXE"
                255  // end
            ]
        #expect(pxe.encode() == expected)

        let parsed = try PXEVendorOptions(parsing: expected)
        #expect(parsed == pxe)
        #expect(parsed.discoveryControl == [.disableBroadcast, .disableMulticast, .skipDiscovery])
        #expect(parsed.discoveryControl?.contains(.onlyListedServers) == false)
        #expect(parsed.value(.bootServers)?.count == 11)
        #expect(parsed.value(.mtftpIPAddress) == nil)
    }

    @Test(
        "Discovery control bit values",
        arguments: [
            (PXEDiscoveryControl.disableBroadcast, UInt8(1)),
            (.disableMulticast, 2),
            (.onlyListedServers, 4),
            (.skipDiscovery, 8),
        ])
    func discoveryControlBits(_ bit: PXEDiscoveryControl, raw: UInt8) {
        var pxe = PXEVendorOptions()
        pxe.discoveryControl = bit
        #expect(pxe.encode() == [6, 1, raw, 255])
    }

    @Test("Boot item 71 reads and writes type and layer big-endian")
    func bootItem() throws {
        var pxe = PXEVendorOptions()
        pxe.bootItem = PXEBootItem(type: 0x8001, layer: 0x0002)
        #expect(
            pxe.encode() == [
                71, 4,  // PXE_BOOT_ITEM, length 4
                0x80, 0x01,  // type 0x8001
                0x00, 0x02,  // layer 2
                255,  // end
            ])
        // A client's request: pads before it and junk after the end option are ignored.
        let parsed = try PXEVendorOptions(parsing: [0, 0, 71, 4, 0x00, 0x00, 0x00, 0x00, 255, 0xAA, 0xBB])
        #expect(parsed.suboptions == [DHCPOption(DHCPOptionCode(71), [0, 0, 0, 0])])
        #expect(parsed.bootItem == PXEBootItem(type: PXEBootItem.bootstrapServerType, layer: 0))
        // Not four octets: no boot item.
        #expect(try PXEVendorOptions(parsing: [71, 2, 0x80, 0x00]).bootItem == nil)
    }

    @Test("set replaces an earlier value of the same sub-option")
    func setReplaces() {
        var pxe = PXEVendorOptions([DHCPOption(DHCPOptionCode(6), [1]), DHCPOption(DHCPOptionCode(10), [0])])
        pxe.discoveryControl = .skipDiscovery
        #expect(pxe.suboptions == [DHCPOption(DHCPOptionCode(10), [0]), DHCPOption(DHCPOptionCode(6), [8])])
    }

    @Test("Menu prompt text is cut so the sub-option fits in 255 octets")
    func longPrompt() {
        let encoded = PXEMenuPrompt(timeout: 10, prompt: String(repeating: "x", count: 300)).encode()
        #expect(encoded.count == 255)
        #expect(encoded.first == 10)
    }

    @Test("A truncated sub-option is a malformed option 43")
    func truncatedSuboption() {
        #expect(
            throws: DHCPParseError.malformedOption(
                code: 43, reason: "PXE sub-options: option 8 at offset 3 runs past the end")
        ) {
            try PXEVendorOptions(parsing: [6, 1, 8, 8, 11, 0x80, 0x00])
        }
    }

    @Test("Option 43 round-trips through a whole message")
    func throughMessage() throws {
        var pxe = PXEVendorOptions()
        pxe.discoveryControl = .skipDiscovery
        let message = DHCPMessage(
            op: .bootReply, xid: 9, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]),
            options: [
                DHCPOption(.messageType, [DHCPMessageType.offer.rawValue]),
                DHCPOption(.vendorClassIdentifier, string: "PXEClient"),
                DHCPOption(.vendorSpecific, pxe.encode()),
            ])
        let parsed = try DHCPMessage(parsing: message.encoded(minimumLength: 300))
        #expect(try parsed.pxeVendorOptions() == pxe)
        #expect(parsed.option(.vendorSpecific) == [6, 1, 8, 255])
    }
}

@Suite("User class (77)")
struct UserClassTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: [UInt8]
        var classes: [String]
        var rfc3004: Bool
        var testDescription: String { name }
    }

    @Test(
        "Raw and RFC 3004 forms",
        arguments: [
            Row(name: "iPXE raw string", wire: ascii("iPXE"), classes: ["iPXE"], rfc3004: false),
            Row(name: "RFC 3004 one class", wire: [4] + ascii("iPXE"), classes: ["iPXE"], rfc3004: true),
            Row(
                name: "RFC 3004 two classes", wire: [4] + ascii("iPXE") + [3] + ascii("lab"), classes: ["iPXE", "lab"],
                rfc3004: true),
            Row(name: "prefix overruns: raw", wire: [5] + ascii("iPXE"), classes: ["\u{5}iPXE"], rfc3004: false),
            Row(
                name: "second prefix overruns: raw", wire: [4] + ascii("iPXE") + [9] + ascii("x"),
                classes: ["\u{4}iPXE\u{9}x"], rfc3004: false),
            Row(name: "zero-length class: raw", wire: [0] + ascii("ab"), classes: ["\u{0}ab"], rfc3004: false),
            Row(name: "empty", wire: [], classes: [""], rfc3004: false),
        ])
    func parse(_ row: Row) {
        let userClass = UserClass(parsing: row.wire)
        #expect(userClass.strings == row.classes)
        #expect(userClass.isRFC3004Encoded == row.rfc3004)
        #expect(userClass.encode() == row.wire)
    }

    @Test("contains matches whole classes in both forms")
    func contains() {
        #expect(UserClass(parsing: ascii("iPXE")).contains("iPXE"))
        #expect(UserClass(parsing: [4] + ascii("iPXE")).contains("iPXE"))
        #expect(!UserClass(parsing: [4] + ascii("iPXE")).contains("\u{4}iPXE"))
        #expect(!UserClass(parsing: ascii("iPXE-lab")).contains("iPXE"))
    }

    @Test("Encoding the same class both ways")
    func encodeBothWays() {
        #expect(UserClass(classes: [ascii("iPXE")], isRFC3004Encoded: false).encode() == [0x69, 0x50, 0x58, 0x45])
        #expect(UserClass(classes: [ascii("iPXE")], isRFC3004Encoded: true).encode() == [4, 0x69, 0x50, 0x58, 0x45])
    }
}

@Suite("Client identity options (93, 94, 97)")
struct ClientIdentityTests {
    @Test("Machine identifier prints the SMBIOS UUID with its first three fields byte-swapped")
    func uuidText() throws {
        // dmidecode shows 4c4c4544-0042-3510-8052-b4c04f4d4e31; PXE sends time_low, time_mid and
        // time_hi little-endian.
        let wire: [UInt8] = [
            0,  // type 0
            0x44, 0x45, 0x4C, 0x4C,  // time_low 0x4c4c4544, little-endian
            0x42, 0x00,  // time_mid 0x0042
            0x10, 0x35,  // time_hi_and_version 0x3510
            0x80, 0x52,  // clock_seq, as is
            0xB4, 0xC0, 0x4F, 0x4D, 0x4E, 0x31,  // node, as is
        ]
        let id = try ClientMachineIdentifier(parsing: wire)
        #expect(id.type == 0)
        #expect(id.guid.count == 16)
        #expect(id.description == "4c4c4544-0042-3510-8052-b4c04f4d4e31")
        #expect(id.encode() == wire)
        #expect(ClientMachineIdentifier(guid: Array(0x00...0x0F)).description == "03020100-0504-0706-0809-0a0b0c0d0e0f")
    }

    @Test("Machine identifier must be 17 octets", arguments: [0, 1, 16, 18])
    func machineIdentifierLength(count: Int) {
        #expect(throws: DHCPParseError.malformedOption(code: 97, reason: "length \(count), expected 17")) {
            try ClientMachineIdentifier(parsing: [UInt8](repeating: 0, count: count))
        }
    }

    struct ArchRow: Sendable, CustomTestStringConvertible {
        var wire: [UInt8]
        var expected: [UInt16]
        var testDescription: String { "\(wire)" }
    }

    @Test(
        "Architecture lists parse as big-endian 16-bit types",
        arguments: [
            ArchRow(wire: [0x00, 0x07], expected: [7]),
            ArchRow(wire: [0x00, 0x00, 0x00, 0x0B], expected: [0, 11]),
            ArchRow(wire: [0x00, 0x10], expected: [16]),
            ArchRow(wire: [0x01, 0x02], expected: [0x0102]),
            ArchRow(wire: [0xFF, 0xFF], expected: [0xFFFF]),
        ])
    func architectureList(_ row: ArchRow) throws {
        let list = try ClientArchitecture.parseList(row.wire)
        #expect(list.map(\.rawValue) == row.expected)
        #expect(ClientArchitecture.encodeList(list) == row.wire)
    }

    @Test("Architecture list lengths that are not a positive multiple of 2 are rejected", arguments: [0, 1, 3, 5])
    func architectureListErrors(count: Int) {
        #expect(
            throws: DHCPParseError.malformedOption(code: 93, reason: "length \(count) is not a positive multiple of 2")
        ) {
            try ClientArchitecture.parseList([UInt8](repeating: 0, count: count))
        }
    }

    @Test("Architecture names")
    func architectureNames() {
        #expect(ClientArchitecture.x86BIOS.description == "x86 BIOS")
        #expect(ClientArchitecture.efiX86_64.description == "x86-64 UEFI")
        #expect(ClientArchitecture.efiBC.description == "EFI BC (x86-64 UEFI)")
        #expect(ClientArchitecture.efiARM64.rawValue == 11)
        #expect(ClientArchitecture.efiX86_64HTTP.rawValue == 16)
        #expect(ClientArchitecture(12).description == "arch 12")
    }

    @Test("Network interface identifier is type, major, minor")
    func networkInterface() throws {
        let nii = try ClientNetworkInterface(parsing: [1, 3, 16])
        #expect(nii == ClientNetworkInterface(major: 3, minor: 16))
        #expect(nii.encode() == [1, 3, 16])
        #expect(throws: DHCPParseError.malformedOption(code: 94, reason: "length 4, expected 3")) {
            try ClientNetworkInterface(parsing: [1, 3, 16, 0])
        }
    }
}
