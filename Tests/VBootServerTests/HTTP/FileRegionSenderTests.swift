import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Testing

@testable import VBootServer

/// The sendfile seam on an embedded channel: a token part leaves the codec as the file region it
/// stands for, any other body passes as bytes, and regions still waiting when the connection goes
/// fail instead of hanging their download.
@Suite("FileRegionSender")
struct FileRegionSenderTests {
    static func channel() throws -> (EmbeddedChannel, FileRegionSender) {
        let sender = FileRegionSender()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([HTTP1ToHTTPServerCodec(secure: false), sender])
        return (channel, sender)
    }

    static func region() throws -> FileRegion {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("region-\(UUID().uuidString)").path
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        return FileRegion(fileHandle: try NIOFileHandle(_deprecatedPath: path), readerIndex: 10, endIndex: 90)
    }

    @Test func aTokenPartLeavesAsItsFileRegion() throws {
        let (channel, sender) = try Self.channel()
        let region = try Self.region()
        defer { try? region.fileHandle.close() }
        let sent = channel.eventLoop.makePromise(of: Void.self)
        let (_, part) = try #require(sender.enqueue(region, promise: sent))
        try channel.writeOutbound(HTTPResponsePart.body(part))
        guard case .body(.fileRegion(let out))? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("no file region left the codec")
            return
        }
        #expect(out.readerIndex == 10 && out.endIndex == 90)
        try sent.futureResult.wait()
        _ = try channel.finish()
    }

    @Test func anyOtherBodyPassesAsBytes() throws {
        let (channel, _) = try Self.channel()
        var lookalike = ByteBuffer()
        lookalike.writeInteger(FileRegionSender.magic &+ 1)
        lookalike.writeInteger(UInt64(1))
        try channel.writeOutbound(HTTPResponsePart.body(lookalike))
        guard case .body(.byteBuffer(let out))? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("the body did not pass as bytes")
            return
        }
        #expect(out == lookalike)
        _ = try channel.finish()
    }

    @Test func waitingRegionsFailWhenTheConnectionGoes() throws {
        let (channel, sender) = try Self.channel()
        let region = try Self.region()
        defer { try? region.fileHandle.close() }
        let sent = channel.eventLoop.makePromise(of: Void.self)
        #expect(sender.enqueue(region, promise: sent) != nil)
        _ = try channel.finish()
        #expect(throws: FileRegionSender.Closed.self) { try sent.futureResult.wait() }
        let late = channel.eventLoop.makePromise(of: Void.self)
        #expect(sender.enqueue(region, promise: late) == nil)
        late.succeed()
    }
}
