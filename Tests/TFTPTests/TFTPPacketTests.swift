import NIOCore
import TFTP
import Testing

func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

func tftpParse(_ bytes: [UInt8]) -> Result<TFTPPacket, TFTPParseError> {
    Result { () throws(TFTPParseError) in try TFTPPacket(parsing: ByteBuffer(bytes: bytes)) }
}

struct TFTPWireCase: Sendable, CustomTestStringConvertible {
    var name: String
    var packet: TFTPPacket
    var wire: [UInt8]
    var testDescription: String { name }
}

@Suite("TFTP packet codec")
struct TFTPPacketTests {
    static let cases: [TFTPWireCase] = [
        .init(
            name: "RRQ without options", packet: .readRequest(TFTPRequest(filename: "undionly.kpxe")),
            wire: [
                0, 1,  // opcode 1: RRQ
            ] + ascii("undionly.kpxe") + [0]  // filename
                + ascii("octet") + [0]),  // mode
        .init(
            name: "RRQ with options",
            packet: .readRequest(
                TFTPRequest(
                    filename: "ipxe.efi", mode: "octet",
                    options: [
                        TFTPOption("blksize", "1468"), TFTPOption("tsize", "0"), TFTPOption("windowsize", "4"),
                    ])),
            wire: [
                0, 1,  // opcode 1: RRQ
            ] + ascii("ipxe.efi") + [0]  // filename
                + ascii("octet") + [0]  // mode
                + ascii("blksize") + [0]  // option name
                + ascii("1468") + [0]  // value
                + ascii("tsize") + [0]  // option name
                + ascii("0") + [0]  // value
                + ascii("windowsize") + [0]  // option name
                + ascii("4") + [0]),  // value
        .init(
            name: "WRQ", packet: .writeRequest(TFTPRequest(filename: "log.txt", mode: "netascii")),
            wire: [
                0, 2,  // opcode 2: WRQ
            ] + ascii("log.txt") + [0]  // filename
                + ascii("netascii") + [0]),  // mode
        .init(
            name: "DATA block 1", packet: .data(block: 1, data: ByteBuffer(bytes: ascii("hello"))),
            wire: [
                0, 3,  // opcode 3: DATA
                0, 1,  // block 1
            ] + ascii("hello")),  // payload
        .init(
            name: "DATA empty last block 65535", packet: .data(block: 65535, data: ByteBuffer()),
            wire: [
                0, 3,  // opcode 3: DATA
                0xFF, 0xFF,  // block 65535, no payload
            ]),
        .init(
            name: "ACK 0", packet: .acknowledgement(block: 0),
            wire: [
                0, 4,  // opcode 4: ACK
                0, 0,  // block 0 (acknowledges an OACK)
            ]),
        .init(
            name: "ACK 0xBEEF", packet: .acknowledgement(block: 0xBEEF),
            wire: [
                0, 4,  // opcode 4: ACK
                0xBE, 0xEF,  // block 48879
            ]),
        .init(
            name: "ERROR 1", packet: .error(TFTPError(.fileNotFound, "File not found")),
            wire: [
                0, 5,  // opcode 5: ERROR
                0, 1,  // code 1: file not found
            ] + ascii("File not found") + [0]),  // message
        .init(
            name: "ERROR 8 empty message", packet: .error(TFTPError(.optionNegotiationFailed, "")),
            wire: [
                0, 5,  // opcode 5: ERROR
                0, 8,  // code 8: option negotiation
                0,  // empty message
            ]),
        .init(
            name: "OACK",
            packet: .optionAcknowledgement([TFTPOption("blksize", "1468"), TFTPOption("tsize", "1048576")]),
            wire: [
                0, 6,  // opcode 6: OACK
            ] + ascii("blksize") + [0]  // option name
                + ascii("1468") + [0]  // value
                + ascii("tsize") + [0]  // option name
                + ascii("1048576") + [0]),  // value
        .init(
            name: "OACK empty", packet: .optionAcknowledgement([]),
            wire: [
                0, 6,  // opcode 6: OACK, no options
            ]),
    ]

    @Test("Parse", arguments: cases)
    func parse(_ row: TFTPWireCase) throws {
        #expect(try TFTPPacket(parsing: ByteBuffer(bytes: row.wire)) == row.packet)
    }

    @Test("Encode", arguments: cases)
    func encode(_ row: TFTPWireCase) {
        #expect(Array(row.packet.encoded().readableBytesView) == row.wire)
        var buffer = ByteBuffer(bytes: [0xEE])
        row.packet.encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0xEE] + row.wire)
    }

    @Test("Round trip", arguments: cases)
    func roundTrip(_ row: TFTPWireCase) throws {
        let again = try TFTPPacket(parsing: row.packet.encoded())
        #expect(again == row.packet)
        #expect(again.encoded() == row.packet.encoded())
    }

    @Test("DATA payload is the rest of the datagram")
    func dataPayloadView() throws {
        var datagram = ByteBuffer(bytes: [0xAA, 0xBB])  // bytes before the packet
        datagram.moveReaderIndex(forwardBy: 2)
        datagram.writeBytes([0, 3, 0x12, 0x34] + [UInt8](repeating: 0x5A, count: 512))
        guard case .data(let block, let payload) = try TFTPPacket(parsing: datagram) else {
            Issue.record("not DATA")
            return
        }
        #expect(block == 0x1234)
        #expect(payload.readableBytes == 512)
        #expect(payload.readableBytesView.allSatisfy { $0 == 0x5A })
    }

    @Test("Strings are read from a buffer whose reader index is not 0")
    func offsetBuffer() throws {
        var buffer = ByteBuffer(bytes: [9, 9, 9])
        buffer.moveReaderIndex(forwardBy: 3)
        buffer.writeBytes([0, 1] + ascii("a") + [0] + ascii("octet") + [0] + ascii("tsize") + [0] + ascii("0") + [0])
        #expect(
            try TFTPPacket(parsing: buffer)
                == .readRequest(TFTPRequest(filename: "a", options: [TFTPOption("tsize", "0")])))
    }

    @Test("Tolerated quirks: ERROR without NUL, NUL padding after the last option")
    func tolerance() throws {
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: [0, 5, 0, 2] + ascii("denied")))
                == .error(TFTPError(.accessViolation, "denied")))
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: [0, 5, 0, 0]))
                == .error(TFTPError(.notDefined, "")))
        let padded =
            [0, 1] + ascii("f") + [0] + ascii("octet") + [0] + ascii("blksize") + [0] + ascii("512") + [0, 0, 0, 0]
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: padded))
                == .readRequest(TFTPRequest(filename: "f", options: [TFTPOption("blksize", "512")])))
        // Only the text up to the first NUL is the message.
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: [0, 5, 0, 1] + ascii("gone") + [0] + ascii("junk")))
                == .error(TFTPError(.fileNotFound, "gone")))
    }

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: [UInt8]
        var error: TFTPParseError
        var testDescription: String { name }
    }

    static let rrqPrefix: [UInt8] = [0, 1] + ascii("pxelinux.0") + [0] + ascii("octet") + [0]  // 19 octets

    @Test(
        "Malformed packets",
        arguments: [
            ErrorCase(name: "empty", wire: [], error: .truncated(field: "opcode", offset: 0)),
            ErrorCase(name: "one octet", wire: [0], error: .truncated(field: "opcode", offset: 0)),
            ErrorCase(name: "opcode 0", wire: [0, 0], error: .unknownOpcode(0)),
            ErrorCase(name: "opcode 7", wire: [0, 7, 0, 0], error: .unknownOpcode(7)),
            ErrorCase(name: "opcode 256", wire: [1, 0], error: .unknownOpcode(256)),
            ErrorCase(
                name: "RRQ unterminated filename", wire: [0, 1] + ascii("pxelinux.0"),
                error: .unterminatedString(field: "filename", offset: 2)),
            ErrorCase(
                name: "RRQ with nothing after the opcode", wire: [0, 1],
                error: .unterminatedString(field: "filename", offset: 2)),
            ErrorCase(
                name: "RRQ unterminated mode", wire: [0, 1] + ascii("pxelinux.0") + [0] + ascii("octet"),
                error: .unterminatedString(field: "mode", offset: 13)),
            ErrorCase(
                name: "RRQ dangling option", wire: rrqPrefix + ascii("blksize") + [0],
                error: .danglingOption(name: "blksize")),
            ErrorCase(
                name: "RRQ unterminated option value", wire: rrqPrefix + ascii("blksize") + [0] + ascii("1468"),
                error: .unterminatedString(field: "option blksize", offset: 27)),
            ErrorCase(
                name: "RRQ unterminated option name", wire: rrqPrefix + ascii("tsize"),
                error: .unterminatedString(field: "option name", offset: 19)),
            ErrorCase(
                name: "OACK dangling option", wire: [0, 6] + ascii("tsize") + [0],
                error: .danglingOption(name: "tsize")),
            ErrorCase(name: "DATA without block", wire: [0, 3], error: .truncated(field: "block", offset: 2)),
            ErrorCase(name: "DATA half a block", wire: [0, 3, 0], error: .truncated(field: "block", offset: 2)),
            ErrorCase(name: "ACK half a block", wire: [0, 4, 1], error: .truncated(field: "block", offset: 2)),
            ErrorCase(name: "ERROR without code", wire: [0, 5, 0], error: .truncated(field: "error code", offset: 2)),
        ])
    func malformed(_ row: ErrorCase) {
        switch tftpParse(row.wire) {
        case .success(let packet): Issue.record("parsed as \(packet)")
        case .failure(let error): #expect(error == row.error)
        }
    }

    @Test("Error descriptions")
    func descriptions() {
        #expect(TFTPParseError.truncated(field: "block", offset: 2).description == "truncated block at offset 2")
        #expect(TFTPParseError.unknownOpcode(9).description == "unknown opcode 9")
        #expect(
            TFTPParseError.unterminatedString(field: "mode", offset: 13).description
                == "mode at offset 13 has no NUL terminator")
        #expect(TFTPParseError.danglingOption(name: "tsize").description == "option tsize has no value")
        #expect(TFTPErrorCode.optionNegotiationFailed.rawValue == 8)
    }
}
