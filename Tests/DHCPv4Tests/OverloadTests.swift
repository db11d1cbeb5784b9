import DHCPv4
import NIOCore
import Testing

/// RFC 2132 §9.3 option overload and RFC 2131 §4.1 option order (options, then file, then sname).
@Suite("Option overload (52)")
struct OverloadTests {
    /// A DISCOVER-style datagram with `sname` and `file` replaced by the given areas (zero-filled).
    static func overloaded(main: [UInt8], file: [UInt8] = [], sname: [UInt8] = []) -> [UInt8] {
        var bytes = datagram(options: main)
        bytes.replaceSubrange(44..<(44 + sname.count), with: sname)  // sname: offset 44, 64 octets
        bytes.replaceSubrange(108..<(108 + file.count), with: file)  // file: offset 108, 128 octets
        return bytes
    }

    static let fileArea: [UInt8] =
        [
            12, 5,  // host name, length 5
        ] + ascii("node1") + [  // "node1"
            224, 2, 0x03, 0x04,  // site option 224, second half of its value
            255,  // end
        ]
    static let snameArea: [UInt8] =
        [
            0,  // pad
            15, 3,  // domain name, length 3
        ] + ascii("lab") + [  // "lab"
            255  // end
        ]
    static let mainArea: [UInt8] = [
        53, 1, 1,  // DISCOVER
        52, 1, 3,  // overload: file (1) and sname (2)
        224, 2, 0x01, 0x02,  // site option 224, first half
        255,  // end
    ]

    @Test("Options in file and sname are read, in that order, and concatenated with the main area")
    func bothAreas() throws {
        let bytes = Self.overloaded(main: Self.mainArea, file: Self.fileArea, sname: Self.snameArea)
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))

        #expect(
            message.options == [
                DHCPOption(.messageType, [1]),
                DHCPOption(.overload, [3]),
                DHCPOption(DHCPOptionCode(224), [1, 2]),
            ])
        #expect(
            message.overloadedOptions == [
                DHCPOption(.hostName, ascii("node1")),
                DHCPOption(DHCPOptionCode(224), [3, 4]),
                DHCPOption(.pad, []),
                DHCPOption(.domainName, ascii("lab")),
            ])
        #expect(message.option(.hostName) == ascii("node1"))
        #expect(message.option(.domainName) == ascii("lab"))
        // RFC 3396: instances in several areas form one value, main area first.
        #expect(message.option(DHCPOptionCode(224)) == [1, 2, 3, 4])
        // Both fields hold options, so neither reads as text.
        #expect(message.bootFileName == "")
        #expect(message.serverHostName == "")
        // file and sname stay raw, so the datagram re-encodes exactly.
        #expect(Array(message.encoded().readableBytesView) == bytes)
    }

    @Test("Overload 1: only file carries options; sname is still the server name")
    func fileOnly() throws {
        let sname = ascii("bootserver") + [0]
        let bytes = Self.overloaded(main: [53, 1, 2, 52, 1, 1, 255], file: Self.fileArea, sname: sname)
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
        #expect(message.overloadedOptions.map(\.code) == [.hostName, DHCPOptionCode(224)])
        #expect(message.serverHostName == "bootserver")
        #expect(message.bootFileName == "")
    }

    @Test("Overload 2: only sname carries options; file is still the boot file")
    func snameOnly() throws {
        let file = ascii("undionly.kpxe") + [0]
        let bytes = Self.overloaded(main: [53, 1, 2, 52, 1, 2, 255], file: file, sname: Self.snameArea)
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
        #expect(message.overloadedOptions == [DHCPOption(.pad, []), DHCPOption(.domainName, ascii("lab"))])
        #expect(message.bootFileName == "undionly.kpxe")
        #expect(message.serverHostName == "")
        #expect(message.option(.hostName) == nil)
    }

    @Test("Without option 52, option-looking bytes in file are just a file name")
    func noOverload() throws {
        let bytes = Self.overloaded(main: [53, 1, 2, 255], file: Self.fileArea)
        let message = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
        #expect(message.overloadedOptions.isEmpty)
        #expect(message.option(.hostName) == nil)
        #expect(message.bootFileName.utf8.count > 0)
    }

    @Test("A truncated option inside file or sname reports its datagram offset")
    func truncatedOverloadedOption() {
        // file: pad, pad, then a host name claiming 200 octets where 124 are left.
        var file = [UInt8](repeating: 0, count: 128)
        file[2] = 12  // host name
        file[3] = 200  // length 200
        #expect(
            dhcpParseError(Self.overloaded(main: [52, 1, 1, 255], file: file))
                == .truncatedOption(code: 12, offset: 110))  // 108 + 2
        var sname = [UInt8](repeating: 0, count: 64)
        sname[63] = 15  // code with no length octet
        #expect(
            dhcpParseError(Self.overloaded(main: [52, 1, 2, 255], sname: sname))
                == .truncatedOption(code: 15, offset: 107))  // 44 + 63
    }

    struct BadOverload: Sendable, CustomTestStringConvertible {
        var value: [UInt8]
        var reported: UInt8
        var testDescription: String { "52 = \(value)" }
    }

    @Test(
        "Overload values other than 1, 2, 3 are rejected",
        arguments: [
            BadOverload(value: [0], reported: 0),
            BadOverload(value: [4], reported: 4),
            BadOverload(value: [255], reported: 255),
            BadOverload(value: [], reported: 0),
            BadOverload(value: [1, 2], reported: 1),
        ])
    func badOverload(_ row: BadOverload) {
        let main = [52, UInt8(row.value.count)] + row.value + [255]
        #expect(dhcpParseError(Self.overloaded(main: main)) == .badOverload(value: row.reported))
    }
}
