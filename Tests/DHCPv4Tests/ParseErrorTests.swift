import DHCPv4
import NIOCore
import Testing

@Suite("DHCP parse errors")
struct ParseErrorTests {
    @Test("Shorter than 240 octets is a truncated header", arguments: [0, 1, 235, 236, 239])
    func truncatedHeader(length: Int) throws {
        let bytes = Array(try Fixture.ovmfX64Discover.bytes().prefix(length))
        #expect(dhcpParseError(bytes) == .truncatedHeader(length: length))
    }

    @Test("Exactly the header and cookie parses, with no options")
    func headerOnly() throws {
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: datagram(options: [])))
        #expect(message.options.isEmpty)
        #expect(message.trailingPadding == 0)
        #expect(message.xid == 0x1234_5678)
    }

    @Test("A wrong magic cookie is reported at offset 236", arguments: [236, 237, 238, 239])
    func badMagicCookie(corruptedOffset: Int) {
        var bytes = datagram()
        bytes[corruptedOffset] ^= 0x01
        #expect(dhcpParseError(bytes) == .badMagicCookie(offset: 236))
    }

    @Test("A BOOTP vendor area (RFC 1048 cookie missing) is not DHCP")
    func zeroCookie() {
        var bytes = datagram()
        bytes.replaceSubrange(236..<240, with: [0, 0, 0, 0])
        #expect(dhcpParseError(bytes) == .badMagicCookie(offset: 236))
    }

    @Test("hlen up to 16 is accepted, above is rejected", arguments: [0, 6, 16, 17, 20, 255])
    func hardwareAddressLength(hlen: Int) throws {
        let bytes = datagram(hlen: UInt8(hlen))
        if hlen <= 16 {
            let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
            #expect(message.clientHardwareAddress.bytes.count == hlen)
        } else {
            #expect(dhcpParseError(bytes) == .badHardwareAddressLength(hlen))
        }
    }

    struct TruncatedOption: Sendable, CustomTestStringConvertible {
        var cutAt: Int
        var code: UInt8
        var offset: Int
        var testDescription: String { "cut at \(cutAt)" }
    }

    /// ovmf-x64-discover.bin: 53 at 240, 57 at 243, 55 (length 35) at 247, 97 at 284, 94 at 303,
    /// 93 at 308, 60 (length 32) at 312, end at 346.
    @Test(
        "An option running past the datagram names its code and offset",
        arguments: [
            TruncatedOption(cutAt: 241, code: 53, offset: 240),  // code, no length octet
            TruncatedOption(cutAt: 242, code: 53, offset: 240),  // length 1, no value
            TruncatedOption(cutAt: 250, code: 55, offset: 247),  // 35-octet list cut short
            TruncatedOption(cutAt: 300, code: 97, offset: 284),
            TruncatedOption(cutAt: 313, code: 60, offset: 312),
            TruncatedOption(cutAt: 345, code: 60, offset: 312),  // one octet short of the end
        ])
    func truncatedOption(_ row: TruncatedOption) throws {
        let bytes = Array(try Fixture.ovmfX64Discover.bytes().prefix(row.cutAt))
        #expect(dhcpParseError(bytes) == .truncatedOption(code: row.code, offset: row.offset))
    }

    @Test("Cut at an option boundary, before the end option, the message still parses")
    func missingEndOption() throws {
        let bytes = Array(try Fixture.ovmfX64Discover.bytes().prefix(346))
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
        #expect(message.vendorClassIdentifier == "PXEClient:Arch:00007:UNDI:003000")
        #expect(message.trailingPadding == 0)
        // Re-encoding adds the end option the client left out.
        #expect(Array(message.encoded().readableBytesView) == bytes + [255])
    }

    @Test("Typed option accessors reject malformed payloads")
    func malformedTypedOptions() throws {
        var message = DHCPMessage(op: .bootRequest, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]))
        message.setOption(.clientSystemArchitecture, [0, 7, 0])
        message.setOption(.clientNetworkInterface, [1, 3])
        message.setOption(.clientMachineIdentifier, [0] + [UInt8](repeating: 0xAB, count: 15))
        message.setOption(.vendorSpecific, [6, 1])
        message.setOption(.serverIdentifier, [10, 0, 0])
        #expect(throws: DHCPParseError.malformedOption(code: 93, reason: "length 3 is not a positive multiple of 2")) {
            try message.clientArchitectures()
        }
        #expect(throws: DHCPParseError.malformedOption(code: 94, reason: "length 2, expected 3")) {
            try message.clientNetworkInterface()
        }
        #expect(throws: DHCPParseError.malformedOption(code: 97, reason: "length 16, expected 17")) {
            try message.clientMachineIdentifier()
        }
        #expect(
            throws: DHCPParseError.malformedOption(
                code: 43, reason: "PXE sub-options: option 6 at offset 0 runs past the end")
        ) {
            try message.pxeVendorOptions()
        }
        #expect(message.serverIdentifier == nil)
        message.setOption(.messageType, [1, 2])
        #expect(message.messageType == nil)
    }

    @Test("Error descriptions name the field and offset")
    func descriptions() {
        #expect(
            DHCPParseError.truncatedHeader(length: 12).description
                == "datagram of 12 octets is shorter than a DHCP header (240)")
        #expect(DHCPParseError.badMagicCookie(offset: 236).description == "no DHCP magic cookie at offset 236")
        #expect(DHCPParseError.badHardwareAddressLength(17).description == "hlen 17 exceeds the 16-octet chaddr field")
        #expect(
            DHCPParseError.truncatedOption(code: 60, offset: 312).description
                == "option 60 at offset 312 runs past the end")
        #expect(DHCPParseError.badOverload(value: 4).description == "option overload value 4 is not 1, 2 or 3")
    }
}
