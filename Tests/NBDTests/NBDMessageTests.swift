import NBD
import NIOCore
import Testing

/// The NBD codec: each message read back as written, byte layouts as the protocol fixes them,
/// partial input waits, broken input ends the connection.
@Suite("NBD messages")
struct NBDMessageTests {
    static func bytes(_ encode: (inout ByteBuffer) -> Void) -> [UInt8] {
        var buffer = ByteBuffer()
        encode(&buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func theGreetingIsNBDMAGICThenIHAVEOPTThenFlags() throws {
        let wire = Self.bytes { NBDGreeting(flags: [.fixedNewstyle, .noZeroes]).encode(into: &$0) }
        #expect(wire == Array("NBDMAGIC".utf8) + Array("IHAVEOPT".utf8) + [0, 3])
        var buffer = ByteBuffer(bytes: wire)
        #expect(try NBDGreeting.parse(&buffer) == NBDGreeting(flags: [.fixedNewstyle, .noZeroes]))
        var bad = ByteBuffer(bytes: Array("NBDMAGIX".utf8) + Array("IHAVEOPT".utf8) + [0, 3])
        #expect(throws: NBDProtocolError.self) { try NBDGreeting.parse(&bad) }
    }

    @Test func anOptionWaitsForItsWholeDataAndRefusesAHugeOne() throws {
        let go = NBDOption(
            type: .go, data: NBDExportRequest(name: "lab/52-54-00-d1-5c-01", informationRequests: [3]).encode())
        let wire = Self.bytes { go.encode(into: &$0) }
        #expect(Array(wire.prefix(16)) == Array("IHAVEOPT".utf8) + [0, 0, 0, 7, 0, 0, 0, UInt8(wire.count - 16)])
        var partial = ByteBuffer(bytes: wire.dropLast())
        #expect(try NBDOption.parse(&partial) == nil)
        #expect(partial.readableBytes == wire.count - 1, "nothing consumed until the option is whole")
        var whole = ByteBuffer(bytes: wire + [0xAA])
        let parsed = try #require(try NBDOption.parse(&whole))
        #expect(parsed == go && whole.readableBytes == 1)
        let request = try NBDExportRequest(parsing: parsed.data)
        #expect(request.name == "lab/52-54-00-d1-5c-01" && request.informationRequests == [3])
        var huge = ByteBuffer()
        huge.writeInteger(NBDMagic.option)
        huge.writeInteger(NBDOptionType.go.rawValue)
        huge.writeInteger(UInt32(1 << 30))
        #expect(throws: NBDProtocolError.self) { try NBDOption.parse(&huge) }
        // A GO whose name length runs past its data.
        var lying = ByteBuffer()
        lying.writeInteger(UInt32(200))
        lying.writeString("lab")
        #expect(throws: NBDProtocolError.self) { try NBDExportRequest(parsing: lying) }
    }

    @Test func requestsAndRepliesReadBackAsWritten() throws {
        let request = NBDRequest(
            flags: .fua, command: .write, handle: 0x0102_0304_0506_0708, offset: 1 << 33, length: 4096)
        let wire = Self.bytes { request.encode(into: &$0) }
        #expect(wire.count == NBDRequest.size)
        #expect(Array(wire.prefix(8)) == [0x25, 0x60, 0x95, 0x13, 0, 1, 0, 1])
        var buffer = ByteBuffer(bytes: wire)
        #expect(try NBDRequest.parse(&buffer) == request)
        var short = ByteBuffer(bytes: wire.prefix(27))
        #expect(try NBDRequest.parse(&short) == nil)
        let reply = NBDSimpleReply(error: .noSpace, handle: 42)
        var replyBuffer = ByteBuffer(bytes: Self.bytes { reply.encode(into: &$0) })
        #expect(try NBDSimpleReply.parse(&replyBuffer) == reply)
        let info = NBDOptionReply.exportInfo(.go, size: 1 << 30, flags: [.hasFlags, .readOnly])
        var infoBuffer = ByteBuffer(bytes: Self.bytes { info.encode(into: &$0) })
        let parsedInfo = try #require(try NBDOptionReply.parse(&infoBuffer))
        #expect(parsedInfo == info)
        // NBD_INFO_EXPORT (16 bits), the size (64), the flags (16).
        #expect(Array(parsedInfo.data.readableBytesView) == [0, 0] + [0, 0, 0, 0, 0x40, 0, 0, 0] + [0, 3])
    }

    @Test func writesOutsideTheExportOrToAReadOnlyOneAreRefused() {
        let export = NBDNegotiation.Export(name: "lab", size: 8192, flags: [.hasFlags, .readOnly])
        let writable = NBDNegotiation.Export(name: "lab/m", size: 8192, flags: [.hasFlags, .sendFlush])
        func check(_ command: NBDCommand, _ offset: UInt64, _ length: UInt32, _ on: NBDNegotiation.Export) -> NBDErrno?
        {
            NBDRequestCheck.problem(NBDRequest(command: command, handle: 1, offset: offset, length: length), export: on)
        }
        #expect(check(.read, 4096, 4096, export) == nil)
        #expect(check(.read, 4096, 4097, export) == .invalid)
        #expect(check(.read, UInt64.max - 1, 4, export) == .invalid, "offset + length overflowing 64 bits")
        #expect(check(.write, 0, 512, export) == .notPermitted)
        #expect(check(.write, 0, 512, writable) == nil)
        #expect(check(.write, 8000, 512, writable) == .noSpace)
        #expect(
            check(.read, 0, NBDRequestCheck.maxLength + 1, NBDNegotiation.Export(name: "x", size: 1 << 40, flags: []))
                == .overflow)
        #expect(check(NBDCommand(rawValue: 99), 0, 0, writable) == .invalid)
    }
}
