import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// One per HTTP connection, after the HTTP/1 codec (Hummingbird's additional channel handlers,
/// so every listener `HTTPService.makeApplication` builds has it): counts the connection in its
/// listener's HTTPConnectionTable (over a limit: a 503 and closed at once), and closes it when
/// its HTTPConnectionDeadline passes. It only shuttles events to those two and moves no bytes.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let table: HTTPConnectionTable
    private var context: ChannelHandlerContext?
    private var phase = Phase.new
    private var timer: (at: NIODeadline, task: Scheduled<Void>)?

    private enum Phase {
        case new
        case admitted(client: String, clock: HTTPConnectionDeadline)
        /// Timed out and closing; still counted until channelInactive.
        case expired(client: String)
        /// Refused, timed out or gone: nothing more goes to Hummingbird.
        case finished
    }

    init(_ table: HTTPConnectionTable) {
        self.table = table
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The request clock needs the first byte of a request, which the HTTP decoder keeps to
        // itself until the head is whole.
        try? context.pipeline.syncOperations.addHandler(HTTPBytesProbe(self), position: .first)
        if context.channel.isActive { open(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        close()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        open(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        close()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .admitted(let client, var clock) = phase else { return }
        switch unwrapInboundIn(data) {
        case .head: clock.headReceived(at: .now())
        case .body: break
        case .end: clock.requestEnded(at: .now())
        }
        phase = .admitted(client: client, clock: clock)
        schedule()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        // The idle time starts once the last byte is in the kernel's hands, not when it is queued.
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.assumeIsolated().whenComplete { _ in self.responseEnded() }
        context.write(data, promise: written)
    }

    /// From HTTPBytesProbe: bytes arrived, not yet decoded.
    func bytesReceived() {
        guard case .admitted(let client, var clock) = phase else { return }
        clock.bytesReceived(at: .now())
        phase = .admitted(client: client, clock: clock)
        schedule()
    }

    private func responseEnded() {
        guard case .admitted(let client, var clock) = phase else { return }
        clock.responseEnded(at: .now())
        phase = .admitted(client: client, clock: clock)
        schedule()
    }

    private func open(_ context: ChannelHandlerContext) {
        guard case .new = phase else { return }
        let client = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let refusal = table.admit(client) {
            phase = .finished
            refuse(context, refusal)
            return
        }
        let limits = table.limits
        phase = .admitted(
            client: client,
            clock: HTTPConnectionDeadline(
                requestTimeout: TimeAmount(limits.requestTimeout), idleTimeout: TimeAmount(limits.idleTimeout),
                openedAt: .now()))
        schedule()
    }

    /// Counts the connection out, exactly once whichever of channelInactive and handlerRemoved
    /// comes first.
    private func close() {
        timer?.task.cancel()
        timer = nil
        switch phase {
        case .admitted(let client, _), .expired(let client): table.release(client)
        case .new, .finished: break
        }
        phase = .finished
    }

    /// Keeps one timer at the clock's deadline; trickled bytes leave it where it is.
    private func schedule() {
        guard case .admitted(_, let clock) = phase, let context, let deadline = clock.deadline else {
            timer?.task.cancel()
            timer = nil
            return
        }
        if timer?.at == deadline.at { return }
        timer?.task.cancel()
        timer = (
            deadline.at,
            context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline.at) { [self] in expire() }
        )
    }

    private func expire() {
        timer = nil
        guard case .admitted(let client, let clock) = phase, let context, let deadline = clock.deadline else { return }
        guard deadline.at <= .now() else {
            schedule()
            return
        }
        table.expired(deadline.expiry, client: client)
        phase = .expired(client: client)
        context.close(promise: nil)
    }

    /// RFC 9110 §15.6.4 503 with Retry-After: cheap to say, and curl shows it to whoever asks.
    private func refuse(_ context: ChannelHandlerContext, _ refusal: HTTPConnectionCount.Refusal) {
        let text = ByteBuffer(
            string:
                "vboot: too many HTTP connections\(refusal == .perClient ? " from your address" : ""); retry later\n")
        let head = HTTPResponse(
            status: .serviceUnavailable,
            headerFields: [
                .contentType: "text/plain; charset=utf-8", .contentLength: String(text.readableBytes),
                .connection: "close", .retryAfter: "5",
            ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(text)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        // Behind TLS the write waits for a handshake the client may never finish: close anyway
        // after a second (a second close is a no-op).
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
    }
}

/// First in the pipeline (before TLS too, where there is TLS): tells the guard that bytes came,
/// and passes them on untouched.
final class HTTPBytesProbe: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let guardian: HTTPConnectionGuard

    init(_ guardian: HTTPConnectionGuard) {
        self.guardian = guardian
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guardian.bytesReceived()
        context.fireChannelRead(data)
    }
}
