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

    @Test func framingTakesEachHeaderWithAWritesDataAndClosesWhatItCannotReadOn() {
        let writable = NBDNegotiation.Export(name: "lab/m", size: 1 << 20, flags: [.hasFlags, .sendFlush])
        let readOnly = NBDNegotiation.Export(name: "lab", size: 1 << 20, flags: [.hasFlags, .readOnly])
        func request(_ command: NBDCommand, _ length: UInt32, data: Int = 0) -> ByteBuffer {
            var out = ByteBuffer()
            NBDRequest(command: command, handle: 7, offset: 0, length: length).encode(into: &out)
            out.writeBytes([UInt8](repeating: 0xAB, count: data))
            return out
        }
        // A write's 600 bytes of data, then a read: two requests, nothing left.
        var stream = request(.write, 600, data: 600)
        var second = request(.read, 4096)
        stream.writeBuffer(&second)
        guard case .request(let write, let data) = NBDRequestFraming.next(&stream, export: writable) else {
            Issue.record("no write framed")
            return
        }
        #expect(
            write.command == .write && data.readableBytes == 600 && data.getInteger(at: 599, as: UInt8.self) == 0xAB)
        guard case .request(let read, let none) = NBDRequestFraming.next(&stream, export: writable) else {
            Issue.record("no read framed after the write's data")
            return
        }
        #expect(read.command == .read && read.length == 4096 && none.readableBytes == 0)
        #expect(NBDRequestFraming.next(&stream, export: writable) == .needMore(partial: false))
        // Half a header, half a write's data: nothing taken.
        var half = request(.read, 512)
        half.moveWriterIndex(to: 10)
        #expect(NBDRequestFraming.next(&half, export: writable) == .needMore(partial: true) && half.readableBytes == 10)
        var cut = request(.write, 600, data: 300)
        #expect(NBDRequestFraming.next(&cut, export: writable) == .needMore(partial: true))
        #expect(cut.readableBytes == NBDRequest.size + 300)
        // What the stream cannot go on after.
        for (bytes, export) in [
            (request(NBDCommand(rawValue: 9), 512), writable), (request(.write, 512, data: 512), readOnly),
            (request(.write, NBDRequestCheck.maxLength + 1), writable),
        ] {
            var bytes = bytes
            guard case .close = NBDRequestFraming.next(&bytes, export: export) else {
                Issue.record("\(bytes.getInteger(at: 6, as: UInt16.self) ?? 0) on \(export.name) not closed")
                continue
            }
        }
        // Commands the protocol defines but vboot does not offer carry no data: answered, read on.
        var cache = request(NBDCommand(rawValue: 5), 4096)
        guard case .request = NBDRequestFraming.next(&cache, export: writable) else {
            Issue.record("NBD_CMD_CACHE not framed")
            return
        }
    }
}
