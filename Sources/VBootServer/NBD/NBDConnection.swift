import Dispatch
import Glibc
import Logging
import NBD
import NIOConcurrencyHelpers
import NIOCore

/// What a connection reads and writes once an export is chosen.
protocol NBDDevice: AnyObject, Sendable {
    func read(offset: UInt64, length: Int, into buffer: inout ByteBuffer) throws
    func write(offset: UInt64, bytes: ByteBufferView) throws
    func writeZeroes(offset: UInt64, length: Int) throws
    func flush() throws
    /// The connection is done with it (`clean`: the client said goodbye), after a last flush.
    func release(clean: Bool)
}

extension BlockOverlay: NBDDevice {
    func release(clean: Bool) {}
}

/// Which exports a client may have, and the device behind each (`NBDExports`).
protocol NBDExportSource: Sendable {
    /// What `name` is for this client and, when it is to be used (`open`: GO or EXPORT_NAME, not
    /// INFO), its device, opened before the client is told yes. May take its time: an image's
    /// first hash, the inventory. `onTakeOver` closes this connection when a later one claims the
    /// same layer.
    func prepare(
        _ name: String, client: SocketAddress?, open: Bool, onTakeOver: @escaping @Sendable () -> Void
    ) async -> NBDPrepared
}

/// The answer to `prepare`: with a device only for an export to be used.
struct NBDPrepared: Sendable {
    var found: NBDNegotiation.Lookup
    var device: (any NBDDevice)?

    init(_ found: NBDNegotiation.Lookup, device: (any NBDDevice)? = nil) {
        self.found = found
        self.device = device
    }
}

/// One client's connection. The event loop only hands bytes over: negotiation, disk reads and
/// writes run in order on the connection's own queue, and replies go back through the channel.
final class NBDConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes received and not yet handled past which the connection stops reading (a client
    /// writing faster than the disk takes it, or not reading its replies, waits in TCP, not in
    /// vboot's memory). Reading resumes at half: room for one whole request, the largest a
    /// write, so a request that has not all arrived is never waited for with reading off.
    static let backlogLimit = 2 * (Int(NBDRequestCheck.maxLength) + NBDRequest.size)
    /// Reply bytes written and not yet taken by the socket past which no further request is
    /// handled: a client that does not read its replies stops being served, not vboot's memory.
    static let replyLimit = 8 << 20
    /// Bytes a client may send before it has chosen an export: its options (each at most
    /// `NBDOption.maxDataLength`), and a first request or two sent behind GO.
    static let handshakeBacklogLimit = 1 << 20

    private let state: NBDConnectionState
    private let admission: NBDAdmission
    private var admitted: String?

    init(
        exports: any NBDExportSource, admission: NBDAdmission, memory: NBDMemory, timeouts: NBDTimeouts,
        counters: ServerCounters, logger: Logger
    ) {
        state = NBDConnectionState(
            exports: exports, memory: memory, timeouts: timeouts, counters: counters, logger: logger)
        self.admission = admission
    }

    func channelActive(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "?"
        if let refusal = admission.admit(address) {
            state.refuse(refusal)
            context.close(promise: nil)
            return
        }
        admitted = address
        state.start(channel: context.channel)
        context.writeAndFlush(wrapOutboundOut(NBDNegotiation.greeting()), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted != nil else { return }
        state.receive(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let admitted {
            admission.leave(admitted)
            state.end()
        }
        admitted = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.failed(error)
        context.close(promise: nil)
    }
}
