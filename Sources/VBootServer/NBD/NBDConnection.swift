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
    /// May take its time: an image's first hash, the inventory.
    func lookup(_ name: String, client: SocketAddress?) async -> NBDNegotiation.Lookup
    /// The device for an export `lookup` gave this client, opened before the client is told
    /// yes; `onTakeOver` closes this connection when a later one claims the same layer.
    func open(
        _ export: NBDNegotiation.Export, client: SocketAddress?, onTakeOver: @escaping @Sendable () -> Void
    ) async throws -> any NBDDevice
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
    /// From connecting to choosing an export.
    static let handshakeTimeout = DispatchTimeInterval.seconds(30)

    private let state: NBDConnectionState
    private let admission: NBDAdmission
    private var admitted: String?

    init(exports: any NBDExportSource, admission: NBDAdmission, counters: ServerCounters, logger: Logger) {
        state = NBDConnectionState(exports: exports, counters: counters, logger: logger)
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
    /// Opened for the export being looked up, taken when haggling ends in transmission.
    private var opened: (any NBDDevice)?
    /// A lookup is out: nothing more is read until it answers.
    private var waiting = false
    private var inFlight = 0
    private var closed = false
    private let backlog = NIOLockedValueBox(0)

    init(exports: any NBDExportSource, counters: ServerCounters, logger: Logger) {
        self.exports = exports
        self.counters = counters
        self.logger = logger
    }

    private var who: String { client?.compact ?? "?" }

    /// On the event loop, before any `receive`: set once, read after.
    func start(channel: any Channel) {
        self.channel = channel
        client = channel.remoteAddress
        queue.asyncAfter(deadline: .now() + NBDConnectionHandler.handshakeTimeout) {
            guard self.export == nil, !self.closed else { return }
            self.hangUp("no export chosen within the handshake's time")
        }
    }

    func refuse(_ reason: String) {
        counters.increment(.nbdConnectionsDropped)
        logger.warning("nbd: \(reason); connection closed")
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
            self.run()
        }
    }

    /// `process`, then what it handled leaves the backlog: bytes still unhandled (a request
    /// waiting for its replies to drain, or for a lookup) keep counting, and keep reading off.
    private func run() {
        let before = received.readableBytes
        process()
        let handled = before - received.readableBytes
        guard handled > 0 else { return }
        let left = backlog.withLockedValue { value -> Int in
            value -= handled
            return value
        }
        if left <= NBDConnectionHandler.backlogLimit / 2 {
            _ = channel?.setOption(ChannelOptions.autoRead, value: true)
        }
    }

    func failed(_ error: any Error) {
        logger.info("nbd: \(who): \(error); connection closed")
    }

    func end() {
        queue.async {
            self.closed = true
            self.release(clean: false)
        }
    }

    /// Handles what has arrived, as far as it may: not while a lookup is out, nor while the
    /// client leaves replies unread.
    private func process() {
        defer { compact() }
        guard !closed, !waiting else { return }
        if export == nil {
            guard perform(negotiation.receive(&received)), export != nil else { return }
        }
        guard let export, let device else { return }
        while !closed, inFlight < NBDConnectionHandler.replyLimit {
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
                return hangUp(nil, clean: true)
            }
            reply(to: request, data: data, export: export, device: device)
        }
    }

    /// What was handled goes: a connection lives as long as the machine runs.
    private func compact() {
        if received.readableBytes == 0 {
            received.clear()
        } else if received.readerIndex >= 1 << 20 {
            received.discardReadBytes()
        }
    }

    /// Carries out haggling's effects; false when it must stop (closed, or a lookup is out).
    private func perform(_ effects: [NBDNegotiation.Effect]) -> Bool {
        for effect in effects {
            switch effect {
            case .send(let bytes): send(bytes)
            case .lookup(let name, let transmission):
                look(up: name, transmission: transmission)
                return false
            case .transmit(let chosen):
                export = chosen
                device = opened
                opened = nil
                logger.info("nbd: \(who) uses \(chosen.name) (\(chosen.size) bytes)")
            case .close(let reason):
                hangUp(reason)
                return false
            }
        }
        return !closed
    }

    /// The lookup (and for GO or EXPORT_NAME the device's opening) off the queue; its answer
    /// comes back to the queue and haggling goes on.
    private func look(up name: String, transmission: Bool) {
        waiting = true
        let (exports, client, who) = (self.exports, self.client, self.who)
        Task {
            var found = await exports.lookup(name, client: client)
            var device: (any NBDDevice)?
            if case .export(let export) = found, transmission {
                do {
                    device = try await exports.open(export, client: client) { [weak self] in
                        guard let self else { return }
                        self.queue.async { self.hangUp("another connection took over \(name)") }
                    }
                } catch {
                    found = .refused("cannot open it: \(error)")
                }
            }
            switch found {
            case .unknown(let why), .refused(let why):
                // The client only sees an error code: the reason is for the admin.
                counters.increment(.nbdRequestsRefused)
                logger.info("nbd: \(who) asked for \(name): \(why); refused")
            case .export: break
            }
            let (answer, ready) = (found, device)
            self.queue.async {
                self.waiting = false
                guard !self.closed else {
                    ready?.release(clean: false)
                    return
                }
                self.opened = ready
                if self.perform(self.negotiation.resolve(answer)) { self.run() }
            }
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
            } catch let failure {
                // Told to the client (its file system decides), the connection goes on.
                logger.error("nbd: \(who) \(export.name): \(failure)")
                error = Self.errno(for: failure)
            }
        }
        if let error {
            counters.increment(.nbdRequestsRefused)
            logger.debug(
                "nbd: \(who) \(export.name): request \(request.command.rawValue) at \(request.offset)+\(request.length): errno \(error.rawValue)"
            )
        }
        NBDSimpleReply(error: error ?? .ok, handle: request.handle).encode(into: &out)
        if error == nil, request.command == .read { out.writeBuffer(&readData) }
        send(out)
    }

    /// The protocol's errno for a failed disk call: a full disk is the client's to know.
    static func errno(for failure: any Error) -> NBDErrno {
        switch (failure as? BlockOverlay.OverlayError)?.errno {
        // EFBIG too: the spec wants ENOSPC for a write past what the server can hold.
        case ENOSPC?, EDQUOT?, EFBIG?: .noSpace
        case EROFS?, EPERM?: .notPermitted
        default: .io
        }
    }

    /// Writes `bytes` and counts them until the socket has them.
    private func send(_ bytes: ByteBuffer) {
        guard let channel else { return }
        let size = bytes.readableBytes
        inFlight += size
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            self.queue.async {
                let paused = self.inFlight >= NBDConnectionHandler.replyLimit
                self.inFlight -= size
                if paused, self.inFlight < NBDConnectionHandler.replyLimit { self.run() }
            }
        }
        channel.writeAndFlush(bytes, promise: promise)
    }

    /// Ends the connection (after what was written), `reason` nil for the client's own goodbye.
    private func hangUp(_ reason: String?, clean: Bool = false) {
        guard !closed else { return }
        closed = true
        if let reason {
            counters.increment(.nbdConnectionsDropped)
            logger.warning("nbd: \(who): \(reason); connection closed")
        }
        release(clean: clean)
        channel?.close(promise: nil)
    }

    private func release(clean: Bool) {
        if let opened {
            self.opened = nil
            opened.release(clean: false)
        }
        guard let device else { return }
        self.device = nil
        do { try device.flush() } catch {
            logger.error("nbd: \(who) \(export?.name ?? ""): flush at the end: \(error)")
        }
        device.release(clean: clean)
    }
}
