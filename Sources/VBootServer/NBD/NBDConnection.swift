import Dispatch
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
}

extension BlockOverlay: NBDDevice {}

/// Which exports a client may have, and the device behind each (`NBDExports`).
protocol NBDExportSource: Sendable {
    /// On the connection's queue: may block (an image's first hash, the inventory).
    func lookup(_ name: String, client: SocketAddress?) -> NBDNegotiation.Lookup
    /// The device for an export `lookup` gave this client; `onTakeOver` closes this connection
    /// when a later one claims the same device.
    func open(
        _ export: NBDNegotiation.Export, client: SocketAddress?, onTakeOver: @escaping @Sendable () -> Void
    ) throws -> any NBDDevice
}

/// One client's connection. The event loop only hands bytes over: negotiation, disk reads and
/// writes run in order on the connection's own queue, and replies go back through the channel.
final class NBDConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Bytes received and not yet handled past which the connection stops reading (a client
    /// writing faster than the disk takes it waits in TCP, not in vboot's memory).
    static let backlogLimit = 64 << 20

    private let state: NBDConnectionState

    init(exports: any NBDExportSource, counters: ServerCounters, logger: Logger) {
        state = NBDConnectionState(exports: exports, counters: counters, logger: logger)
    }

    func channelActive(context: ChannelHandlerContext) {
        state.start(channel: context.channel)
        context.writeAndFlush(wrapOutboundOut(NBDNegotiation.greeting()), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        state.receive(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.failed(error)
        context.close(promise: nil)
    }
}

/// The connection's state, touched only on its queue.
final class NBDConnectionState: @unchecked Sendable {
    private let exports: any NBDExportSource
    private let counters: ServerCounters
    private let logger: Logger
    private let queue = DispatchQueue(label: "vboot-nbd-connection")
    private var channel: (any Channel)?
    private var client: SocketAddress?
    private var received = ByteBuffer()
    private var negotiation = NBDNegotiation()
    private var export: NBDNegotiation.Export?
    private var device: (any NBDDevice)?
    private var closed = false
    private let backlog = NIOLockedValueBox(0)

    init(exports: any NBDExportSource, counters: ServerCounters, logger: Logger) {
        self.exports = exports
        self.counters = counters
        self.logger = logger
    }

    /// On the event loop, before any `receive`: set once, read after.
    func start(channel: any Channel) {
        self.channel = channel
        client = channel.remoteAddress
    }

    func receive(_ bytes: ByteBuffer) {
        let size = bytes.readableBytes
        let backlog = self.backlog.withLockedValue { value -> Int in
            value += size
            return value
        }
        if backlog > NBDConnectionHandler.backlogLimit {
            _ = channel?.setOption(ChannelOptions.autoRead, value: false)
        }
        queue.async {
            var bytes = bytes
            self.received.writeBuffer(&bytes)
            self.process()
            // What was handled goes: a connection lives as long as the machine runs.
            if self.received.readableBytes == 0 {
                self.received.clear()
            } else if self.received.readerIndex >= 1 << 20 {
                self.received.discardReadBytes()
            }
            let left = self.backlog.withLockedValue { value -> Int in
                value -= size
                return value
            }
            if left <= NBDConnectionHandler.backlogLimit / 2 {
                _ = self.channel?.setOption(ChannelOptions.autoRead, value: true)
            }
        }
    }

    func failed(_ error: any Error) {
        logger.info("nbd: \(client?.compact ?? "?"): \(error); connection closed")
    }

    func end() {
        queue.async {
            self.closed = true
            self.release()
        }
    }

    private func process() {
        guard !closed else { return }
        if export == nil {
            let client = self.client
            let effects = negotiation.receive(&received) { name in
                let found = self.exports.lookup(name, client: client)
                switch found {
                case .unknown(let why), .refused(let why):
                    // The client only sees an error code: the reason is for the admin.
                    self.counters.increment(.nbdRequestsRefused)
                    self.logger.info("nbd: \(client?.compact ?? "?") asked for \(name): \(why); refused")
                case .export: break
                }
                return found
            }
            for effect in effects {
                switch effect {
                case .send(let bytes): channel?.writeAndFlush(bytes, promise: nil)
                case .transmit(let chosen):
                    do {
                        device = try exports.open(chosen, client: client) { [weak self] in
                            guard let self else { return }
                            self.queue.async { self.hangUp("another connection took over \(chosen.name)") }
                        }
                        export = chosen
                        logger.info("nbd: \(client?.compact ?? "?") uses \(chosen.name) (\(chosen.size) bytes)")
                    } catch {
                        return hangUp("cannot open \(chosen.name): \(error)")
                    }
                case .close(let reason): return hangUp(reason)
                }
            }
        }
        guard let export, let device else { return }
        while !closed {
            guard let header = received.getSlice(at: received.readerIndex, length: NBDRequest.size) else { return }
            var reader = header
            let request: NBDRequest
            do {
                guard let parsed = try NBDRequest.parse(&reader) else { return }
                request = parsed
            } catch {
                return hangUp("\(error)")
            }
            let carries = request.command == .write
            if carries, request.length > NBDRequestCheck.maxLength {
                return hangUp("a write of \(request.length) bytes, more than \(NBDRequestCheck.maxLength)")
            }
            let payload = carries ? Int(request.length) : 0
            guard received.readableBytes >= NBDRequest.size + payload else { return }
            received.moveReaderIndex(forwardBy: NBDRequest.size)
            let data = received.readSlice(length: payload)!
            if request.command == .disconnect {
                return hangUp(nil)
            }
            reply(to: request, data: data, export: export, device: device)
        }
    }

    private func reply(
        to request: NBDRequest, data: ByteBuffer, export: NBDNegotiation.Export, device: any NBDDevice
    ) {
        var out = ByteBuffer()
        var error = NBDRequestCheck.problem(request, export: export)
        var readData = ByteBuffer()
        if error == nil {
            do {
                switch request.command {
                case .read:
                    try device.read(offset: request.offset, length: Int(request.length), into: &readData)
                    counters.increment(.nbdBytesRead, by: Int(request.length))
                case .write:
                    try device.write(offset: request.offset, bytes: data.readableBytesView)
                    counters.increment(.nbdBytesWritten, by: Int(request.length))
                    if request.flags.contains(.fua) { try device.flush() }
                case .writeZeroes:
                    try device.writeZeroes(offset: request.offset, length: Int(request.length))
                    if request.flags.contains(.fua) { try device.flush() }
                case .trim:
                    // A hint (the spec lets a server ignore it): the blocks keep what they hold.
                    break
                case .flush:
                    try device.flush()
                default:
                    error = .invalid
                }
            } catch {
                logger.error("nbd: \(client?.compact ?? "?") \(export.name): \(error)")
                return hangUp("\(error)")
            }
        }
        if let error {
            counters.increment(.nbdRequestsRefused)
            logger.debug(
                "nbd: \(client?.compact ?? "?") \(export.name): request \(request.command.rawValue) at \(request.offset)+\(request.length): errno \(error.rawValue)"
            )
        }
        NBDSimpleReply(error: error ?? .ok, handle: request.handle).encode(into: &out)
        if error == nil, request.command == .read { out.writeBuffer(&readData) }
        channel?.writeAndFlush(out, promise: nil)
    }

    /// Ends the connection (after what was written), `reason` nil for the client's own goodbye.
    private func hangUp(_ reason: String?) {
        closed = true
        if let reason {
            counters.increment(.nbdConnectionsDropped)
            logger.warning("nbd: \(client?.compact ?? "?"): \(reason); connection closed")
        }
        release()
        channel?.close(promise: nil)
    }

    private func release() {
        guard let device else { return }
        self.device = nil
        do { try device.flush() } catch {
            logger.error("nbd: \(client?.compact ?? "?") \(export?.name ?? ""): flush at the end: \(error)")
        }
    }
}
