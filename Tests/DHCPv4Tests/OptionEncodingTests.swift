import DHCPv4
import NIOCore
import Testing

/// One row of the option-encoding table: options in, the option area expected on the wire.
struct OptionEncodingCase: Sendable, CustomTestStringConvertible {
    var name: String
    var options: [DHCPOption]
    var wire: [UInt8]
    var testDescription: String { name }
}

@Suite("DHCP option encoding")
struct OptionEncodingTests {
    static let cases: [OptionEncodingCase] = [
        .init(
            name: "message type", options: [DHCPOption(.messageType, [DHCPMessageType.offer.rawValue])],
            wire: [
                53, 1,  // code 53, length 1
                2,  // OFFER
                255,  // end
            ]),
        .init(
            name: "server identifier", options: [DHCPOption(.serverIdentifier, IPv4Address(10, 77, 0, 1).octets)],
            wire: [
                54, 4,  // code 54, length 4
                10, 77, 0, 1,  // 10.77.0.1
                255,  // end
            ]),
        .init(
            name: "vendor class text", options: [DHCPOption(.vendorClassIdentifier, string: "PXEClient")],
            wire: [
                60, 9,  // code 60, length 9
            ] + ascii("PXEClient") + [  // "PXEClient"
                255  // end
            ]),
        .init(
            name: "client architecture list",
            options: [
                DHCPOption(.clientSystemArchitecture, ClientArchitecture.encodeList([.x86BIOS, .efiX86_64, .efiARM64]))
            ],
            wire: [
                93, 6,  // code 93, length 6
                0x00, 0x00,  // 0: x86 BIOS
                0x00, 0x07,  // 7: x86-64 UEFI
                0x00, 0x0B,  // 11: ARM64 UEFI
                255,  // end
            ]),
        .init(
            name: "client network interface",
            options: [
                DHCPOption(.clientNetworkInterface, ClientNetworkInterface(major: 3, minor: 16).encode())
            ],
            wire: [
                94, 3,  // code 94, length 3
                1,  // type 1: UNDI
                3, 16,  // version 3.16
                255,  // end
            ]),
        .init(
            name: "client machine identifier",
            options: [
                DHCPOption(.clientMachineIdentifier, ClientMachineIdentifier(guid: Array(0x00...0x0F)).encode())
            ],
            wire: [
                97, 17,  // code 97, length 17
                0,  // type 0: GUID
                0x00, 0x01, 0x02, 0x03,  // time_low (little-endian on the wire)
                0x04, 0x05,  // time_mid
                0x06, 0x07,  // time_hi_and_version
                0x08, 0x09,  // clock_seq
                0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,  // node
                255,  // end
            ]),
        .init(
            name: "RFC 3004 user class",
            options: [
                DHCPOption(.userClass, UserClass(classes: [ascii("iPXE")], isRFC3004Encoded: true).encode())
            ],
            wire: [
                77, 5,  // code 77, length 5
                4,  // class length 4
            ] + ascii("iPXE") + [  // "iPXE"
                255  // end
            ]),
        .init(
            name: "empty value", options: [DHCPOption(DHCPOptionCode(80), [])],
            wire: [
                80, 0,  // code 80 (rapid commit), length 0
                255,  // end
            ]),
        .init(
            name: "pad kept as one octet",
            options: [
                DHCPOption(.pad, []), DHCPOption(.messageType, [1]), DHCPOption(.pad, []),
            ],
            wire: [
                0,  // pad
                53, 1, 1,  // DISCOVER
                0,  // pad
                255,  // end
            ]),
        .init(
            name: "repeated and unknown options keep their order",
            options: [
                DHCPOption(DHCPOptionCode(224), [0xDE, 0xAD]),
                DHCPOption(.router, [10, 0, 0, 1]),
                DHCPOption(DHCPOptionCode(224), [0xBE, 0xEF]),
            ],
            wire: [
                224, 2, 0xDE, 0xAD,  // site-specific 224, first instance
                3, 4, 10, 0, 0, 1,  // router 10.0.0.1
                224, 2, 0xBE, 0xEF,  // 224 again
                255,  // end
            ]),
        .init(
            name: "no options", options: [],
            wire: [
                255  // end
            ]),
    ]

    @Test("Option area on the wire", arguments: cases)
    func encodesOptionArea(_ row: OptionEncodingCase) throws {
        let message = DHCPMessage(
            op: .bootRequest, xid: 1, chaddr: HardwareAddress([2, 0, 0, 0, 0, 1]), options: row.options)
        let encoded = message.encoded()
        #expect(encoded.readableBytes == DHCPMessage.headerLength + row.wire.count)
        #expect(Array(encoded.readableBytesView.dropFirst(DHCPMessage.headerLength)) == row.wire)

        let parsed = try DHCPMessage(parsing: encoded)
        #expect(parsed.options == row.options)
        #expect(parsed == message)
    }

    @Test("Fixed header fields land at their RFC 2131 offsets")
    func headerLayout() {
        var message = DHCPMessage(
            op: .bootReply, xid: 0xDEAD_BEEF, chaddr: HardwareAddress([0x52, 0x54, 0x00, 0xAA, 0x00, 0x01]),
            secs: 0x0102, flags: DHCPMessage.broadcastFlag,
            ciaddr: IPv4Address(1, 2, 3, 4), yiaddr: IPv4Address(5, 6, 7, 8),
            siaddr: IPv4Address(9, 10, 11, 12), giaddr: IPv4Address(13, 14, 15, 16)
        )
        message.hops = 3
        message.serverHostName = "boot"
        message.bootFileName = "ipxe.efi"
        let bytes = Array(message.encoded().readableBytesView)
        #expect(
            Array(bytes[0..<28]) == [
                2, 1, 6, 3,  // op BOOTREPLY, htype Ethernet, hlen 6, hops 3
                0xDE, 0xAD, 0xBE, 0xEF,  // xid
                0x01, 0x02,  // secs
                0x80, 0x00,  // flags: broadcast
                1, 2, 3, 4,  // ciaddr
                5, 6, 7, 8,  // yiaddr
                9, 10, 11, 12,  // siaddr
                13, 14, 15, 16,  // giaddr
            ])
        #expect(Array(bytes[28..<44]) == [0x52, 0x54, 0x00, 0xAA, 0x00, 0x01] + [UInt8](repeating: 0, count: 10))
        #expect(Array(bytes[44..<48]) == ascii("boot"))  // sname
        #expect(bytes[48..<108].allSatisfy { $0 == 0 })
        #expect(Array(bytes[108..<116]) == ascii("ipxe.efi"))  // file
        #expect(bytes[116..<236].allSatisfy { $0 == 0 })
        #expect(Array(bytes[236..<240]) == [99, 130, 83, 99])  // magic cookie
        #expect(Array(bytes[240...]) == [255])
    }

    @Test("sname and file are cut to their field sizes")
    func fixedFieldsAreTruncated() throws {
        var message = DHCPMessage(op: .bootReply, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]))
        message.bootFileName = String(repeating: "f", count: 200)
        message.serverHostName = String(repeating: "s", count: 70)
        #expect(message.file.count == 128 && message.sname.count == 64)
        let parsed = try DHCPMessage(parsing: message.encoded())
        #expect(parsed.bootFileName == String(repeating: "f", count: 128))
        #expect(parsed.serverHostName == String(repeating: "s", count: 64))
    }

    /// RFC 3396 §7: a value over 255 octets goes out as consecutive instances of the option.
    @Test(
        "Long options split into 255-octet instances and concatenate back",
        arguments: [(0, [0]), (1, [1]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (600, [255, 255, 90])])
    func longOptionSplitting(length: Int, instanceLengths: [Int]) throws {
        let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        let message = DHCPMessage(
            op: .bootReply, xid: 7, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]),
            options: [
                DHCPOption(.messageType, [5]),
                DHCPOption(.vendorSpecific, value),
                DHCPOption(.router, [10, 0, 0, 1]),
            ])
        let encoded = message.encoded()
        let area = Array(encoded.readableBytesView.dropFirst(DHCPMessage.headerLength))

        // Walk the area by hand: 53, then the 43 instances back to back, then 3, then end.
        #expect(Array(area.prefix(3)) == [53, 1, 5])
        var index = 3
        var lengths: [Int] = []
        var reassembled: [UInt8] = []
        while area[index] == 43 {
            let count = Int(area[index + 1])
            lengths.append(count)
            reassembled += area[(index + 2)..<(index + 2 + count)]
            index += 2 + count
        }
        #expect(lengths == instanceLengths)
        #expect(reassembled == value)
        #expect(Array(area[index...]) == [3, 4, 10, 0, 0, 1, 255])

        let parsed = try DHCPMessage(parsing: encoded)
        #expect(parsed.options.filter { $0.code == .vendorSpecific }.map(\.data.count) == instanceLengths)
        #expect(parsed.option(.vendorSpecific) == value)
        #expect(parsed.options.value(.vendorSpecific) == value)
        #expect(Array(parsed.encoded().readableBytesView) == Array(encoded.readableBytesView))
    }

    @Test("setOption replaces every instance in place of the first")
    func setOptionReplaces() {
        var message = DHCPMessage(
            op: .bootRequest, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]),
            options: [
                DHCPOption(.messageType, [1]),
                DHCPOption(DHCPOptionCode(224), [1]),
                DHCPOption(.router, [10, 0, 0, 1]),
                DHCPOption(DHCPOptionCode(224), [2]),
            ])
        message.setOption(DHCPOptionCode(224), [9, 9])
        #expect(
            message.options == [
                DHCPOption(.messageType, [1]),
                DHCPOption(DHCPOptionCode(224), [9, 9]),
                DHCPOption(.router, [10, 0, 0, 1]),
            ])
        message.setOption(.serverIdentifier, [10, 0, 0, 2])
        #expect(message.options.last == DHCPOption(.serverIdentifier, [10, 0, 0, 2]))
        #expect(message.serverIdentifier == IPv4Address(10, 0, 0, 2))
    }

    @Test("minimumLength pads a short reply with zeros to 300 octets")
    func minimumLengthPadding() throws {
        let message = DHCPMessage(
            op: .bootReply, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]),
            options: [
                DHCPOption(.messageType, [DHCPMessageType.offer.rawValue])
            ])
        #expect(message.encoded().readableBytes == 244)  // 240 + 53/1/2 + end

        let padded = Array(message.encoded(minimumLength: DHCPMessage.minimumBOOTPLength).readableBytesView)
        #expect(padded.count == 300)
        #expect(Array(padded[240..<244]) == [53, 1, 2, 255])
        #expect(padded[244...].allSatisfy { $0 == 0 })
        // The padding reads back as trailingPadding, and the message re-encodes to the same bytes.
        let parsed = try DHCPMessage(parsing: ByteBuffer(bytes: padded))
        #expect(parsed.trailingPadding == 56)
        #expect(Array(parsed.encoded().readableBytesView) == padded)

        // A message already longer than minimumLength is not cut or padded.
        #expect(message.encoded(minimumLength: 200).readableBytes == 244)
    }

    @Test("minimumLength and trailingPadding: the larger padding wins")
    func paddingCombinations() {
        var message = DHCPMessage(op: .bootReply, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]))
        #expect(message.encoded().readableBytes == 241)
        message.trailingPadding = 10
        #expect(message.encoded().readableBytes == 251)
        #expect(message.encoded(minimumLength: 300).readableBytes == 300)
        message.trailingPadding = 100
        #expect(message.encoded(minimumLength: 300).readableBytes == 341)
    }

    @Test("encode(into:) counts minimumLength from where the message starts")
    func encodeIntoNonEmptyBuffer() {
        let message = DHCPMessage(op: .bootReply, xid: 1, chaddr: HardwareAddress([1, 2, 3, 4, 5, 6]))
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])
        message.encode(into: &buffer, minimumLength: 300)
        #expect(buffer.readableBytes == 303)
        #expect(buffer.getBytes(at: 0, length: 4) == [0xAA, 0xBB, 0xCC, 2])
    }
}
