import Glibc
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Sends asset bodies with sendfile(2). Hummingbird's response body carries only ByteBuffers, so
/// the body writes a 16-octet token part instead, and this handler (between the HTTP/1 codec and
/// Hummingbird, one per connection) swaps the token for a `FileRegion` written below the codec,
/// which hands file regions to the socket. The body awaits the region's write: no file byte passes
/// through user space, and a download holds no buffer however fast or slow its client is.
final class FileRegionSender: ChannelOutboundHandler, RemovableChannelHandler, Sendable {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Closed: Error, CustomStringConvertible {
        var description: String { "the connection closed before the file was sent" }
    }

    /// "vbootsf\0": the first half of a token part.
    static let magic: UInt64 = 0x7662_6f6f_7473_6600

    private struct Pending {
        var region: FileRegion
        var promise: EventLoopPromise<Void>
    }

    private struct State {
        var pending: [UInt64: Pending] = [:]
        var lastToken: UInt64 = 0
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    /// Registers `region`; the returned part, written through the response body, sends it.
    /// Nil when the connection is gone.
    func enqueue(_ region: FileRegion, promise: EventLoopPromise<Void>) -> (token: UInt64, part: ByteBuffer)? {
        let token: UInt64? = state.withLockedValue { state in
            guard !state.closed else { return nil }
            state.lastToken &+= 1
            state.pending[state.lastToken] = Pending(region: region, promise: promise)
            return state.lastToken
        }
        guard let token else { return nil }
        var part = ByteBuffer()
        part.writeInteger(Self.magic)
        part.writeInteger(token)
        return (token, part)
    }

    /// Takes a region back whose token part never reached the connection: true when the caller
    /// owns it again (and must fail its promise), false when the region is already being sent.
    func withdraw(_ token: UInt64) -> Bool {
        state.withLockedValue { $0.pending.removeValue(forKey: token) } != nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(let buffer) = unwrapOutboundIn(data), let token = Self.token(in: buffer),
            let codec = try? context.pipeline.syncOperations.context(handlerType: HTTP1ToHTTPServerCodec.self),
            let pending = state.withLockedValue({ $0.pending.removeValue(forKey: token) })
        else {
            context.write(data, promise: promise)
            return
        }
        // From the codec's context the part goes on toward the socket as an HTTP/1 body part;
        // the response head went the same way before it, so the order holds.
        codec.write(NIOAny(HTTPServerResponsePart.body(.fileRegion(pending.region))), promise: pending.promise)
        if let promise { pending.promise.futureResult.cascade(to: promise) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        let orphans = state.withLockedValue { state in
            state.closed = true
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for orphan in orphans { orphan.promise.fail(Closed()) }
    }

    static func token(in buffer: ByteBuffer) -> UInt64? {
        guard buffer.readableBytes == 16, buffer.getInteger(at: buffer.readerIndex, as: UInt64.self) == magic else {
            return nil
        }
        return buffer.getInteger(at: buffer.readerIndex + 8, as: UInt64.self)
    }
}
