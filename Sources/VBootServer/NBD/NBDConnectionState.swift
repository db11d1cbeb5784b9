import Dispatch
import Glibc
import Logging
import NBD
import NIOConcurrencyHelpers
import NIOCore

/// The connection's state, touched only on its queue (but for `backlog`, which the event loop
/// counts as bytes arrive).
final class NBDConnectionState: @unchecked Sendable {
    private let exports: any NBDExportSource
    private let memory: NBDMemory
    private let timeouts: NBDTimeouts
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
    /// A lookup is out: nothing more is handled until it answers.
    private var waiting = false
    private var lookup: Task<Void, Never>?
    /// Reply bytes written and not yet taken by the socket.
    private var inFlight = 0
    /// The bytes received end inside a request: reading goes on until it is whole.
    private var partial = false
    /// Since when the request now half received has been (nil: none is).
    private var partialSince: ContinuousClock.Instant?
    /// A read was held back for want of memory.
    private var heldBack = false
    /// Whether this queue last turned reading on (the event loop only ever turns it off).
    private var reading = true
    private var closed = false
    private let started = ContinuousClock.now
    /// Time spent waiting for lookups (an image's first check), not the client's to count.
    private var lookingUp = Duration.zero
    /// When a reply was last taken by the socket (or the first of those in flight was sent).
    private var lastTaken = ContinuousClock.now
    private let backlog = NIOLockedValueBox(Backlog())

    /// Bytes received and not yet handled, and past how many the event loop stops reading.
    private struct Backlog {
        var bytes = 0
        var limit = NBDConnectionHandler.handshakeBacklogLimit
        /// The event loop turned reading off since the queue last turned it on.
        var paused = false
    }

    init(
        exports: any NBDExportSource, memory: NBDMemory, timeouts: NBDTimeouts, counters: ServerCounters,
        logger: Logger
    ) {
        self.exports = exports
        self.memory = memory
        self.timeouts = timeouts
        self.counters = counters
        self.logger = logger
    }

    private var who: String { client?.compact ?? "?" }

    /// On the event loop, before any `receive`: set once, read after.
    func start(channel: any Channel) {
        self.channel = channel
        client = channel.remoteAddress
        queue.async { self.watch() }
    }

    func refuse(_ reason: String) {
        counters.increment(.nbdConnectionsDropped)
        logger.warning("nbd: \(reason); connection closed")
    }

    /// On the event loop: counts the bytes, and stops reading past the connection's limit.
    func receive(_ bytes: ByteBuffer) {
        let size = bytes.readableBytes
        memory.take(size)
        let over = backlog.withLockedValue { backlog -> Bool in
            backlog.bytes += size
            guard backlog.bytes > backlog.limit else { return false }
            backlog.paused = true
            return true
        }
        if over { _ = channel?.setOption(ChannelOptions.autoRead, value: false) }
        queue.async {
            var bytes = bytes
            self.received.writeBuffer(&bytes)
            self.run()
        }
    }

    /// `process`, then what it handled leaves the backlog, and reading is turned on or off.
    private func run() {
        let before = received.readableBytes
        process()
        let handled = before - received.readableBytes
        memory.give(handled)
        let (bytes, limit, paused) = backlog.withLockedValue { backlog in
            backlog.bytes -= handled
            return (backlog.bytes, backlog.limit, backlog.paused)
        }
        guard !closed else { return }
        if export == nil, bytes > NBDConnectionHandler.handshakeBacklogLimit {
            return hangUp("more than \(NBDConnectionHandler.handshakeBacklogLimit) bytes before choosing an export")
        }
        // Unhandled requests past the limit: on again at half, room for one whole request (the
        // largest a write), so a request that has not all arrived is never waited for unread.
        var want = paused ? bytes <= limit / 2 : bytes <= limit
        // Short of memory: no more requests taken in, but a request begun is read to its end
        // (and haggling, at most a megabyte, goes on: a machine's boot is not held up there).
        let short = memory.isShort
        if short, export != nil, !partial { want = false }
        if want, !reading || paused {
            backlog.withLockedValue { $0.paused = false }
            _ = channel?.setOption(ChannelOptions.autoRead, value: true)
        } else if !want, reading, !paused {
            _ = channel?.setOption(ChannelOptions.autoRead, value: false)
        }
        reading = want
        if short || heldBack { waitForMemory() }
    }

    /// Goes on (reads, handles) once `NBDMemory` has room.
    private func waitForMemory() {
        memory.wait(ObjectIdentifier(self)) { [weak self] in
            guard let self else { return }
            self.queue.async { if !self.closed { self.run() } }
        }
    }

    func failed(_ error: any Error) {
        logger.info("nbd: \(who): \(error); connection closed")
    }

    /// The channel has closed: what the connection held goes back.
    func end() {
        queue.async {
            self.closed = true
            self.release(clean: false)
            self.memory.forget(ObjectIdentifier(self))
            let held = self.backlog.withLockedValue { backlog -> Int in
                defer { backlog.bytes = 0 }
                return backlog.bytes
            }
            self.memory.give(held)
            self.received = ByteBuffer()
        }
    }

    /// Every `timeouts.period` until the connection ends: a handshake that takes too long, and
    /// while memory is short, a client stuck with replies untaken or a request half sent.
    private func watch() {
        guard !closed else { return }
        let now = ContinuousClock.now
        if export == nil, !waiting, started.duration(to: now) - lookingUp >= timeouts.handshake {
            return hangUp("no export chosen within \(timeouts.handshake)")
        }
        if memory.isShort {
            let mebibytes = memory.used >> 20
            if inFlight > 0, lastTaken.duration(to: now) >= timeouts.stalled {
                return hangUp(
                    "\(inFlight) bytes of replies not taken for \(timeouts.stalled) while NBD buffers are full (\(mebibytes) MiB)"
                )
            }
            if let partialSince, partialSince.duration(to: now) >= timeouts.stalled {
                return hangUp(
                    "a request half sent for \(timeouts.stalled) while NBD buffers are full (\(mebibytes) MiB)")
            }
        }
        // Parked for memory that has come back meanwhile (a wake-up raced): go on.
        if !reading || heldBack, !memory.isShort { run() }
        let period = timeouts.period
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(period / .nanoseconds(1)))) { [weak self] in
            self?.watch()
        }
    }

    /// Handles what has arrived, as far as it may: not while a lookup is out, nor while the
    /// client leaves replies unread, nor reads while memory is short.
    private func process() {
        let start = received.readerIndex
        defer {
            // Timed from the request's start: a request handled since is progress.
            if received.readerIndex != start { partialSince = nil }
            partialSince = partial ? partialSince ?? .now : nil
            compact()
        }
        partial = false
        heldBack = false
        guard !closed, !waiting else { return }
        if export == nil {
            let going = perform(negotiation.receive(&received))
            // Haggling takes every whole option: what is left is half an option.
            partial = going && export == nil && received.readableBytes > 0
            guard going, export != nil else { return }
        }
        guard let export, let device else { return }
        while !closed, inFlight < NBDConnectionHandler.replyLimit {
            let mark = received.readerIndex
            switch NBDRequestFraming.next(&received, export: export) {
            case .needMore(let partial):
                self.partial = partial
                return
            case .close(let reason):
                return hangUp(reason)
            case .request(let request, let data):
                // A read makes a reply as large as asked: it waits for room, unless this
                // connection has none in flight (then no connection waits on another's: a
                // request begun behind this read is read and handled after it).
                if request.command == .read, inFlight > 0, memory.isShort {
                    received.moveReaderIndex(to: mark)
                    heldBack = true
                    return
                }
                if request.command == .disconnect { return hangUp(nil, clean: true) }
                reply(to: request, data: data, export: export, device: device)
            }
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
                backlog.withLockedValue { $0.limit = NBDConnectionHandler.backlogLimit }
                logger.info("nbd: \(who) uses \(chosen.name) (\(chosen.size) bytes)")
            case .close(let reason):
                hangUp(reason)
                return false
            }
        }
        return !closed
    }

    /// The lookup (and for GO or EXPORT_NAME the device's opening) off the queue; its answer
    /// comes back to the queue and haggling goes on. Cancelled when the connection ends first:
    /// a connection gone cannot take a layer over from the one its machine uses now.
    private func look(up name: String, transmission: Bool) {
        waiting = true
        let asked = ContinuousClock.now
        let (exports, client, who, counters, logger) = (self.exports, self.client, self.who, counters, logger)
        lookup = Task {
            let prepared = await exports.prepare(name, client: client, open: transmission) { [weak self] in
                guard let self else { return }
                self.queue.async { self.hangUp("another connection took over \(name)") }
            }
            // A connection that ended meanwhile was not refused.
            if !Task.isCancelled {
                switch prepared.found {
                case .unknown(let why), .refused(let why):
                    // The client only sees an error code: the reason is for the admin.
                    counters.increment(.nbdRequestsRefused)
                    logger.info("nbd: \(who) asked for \(name): \(why); refused")
                case .export: break
                }
            }
            self.queue.async {
                self.waiting = false
                self.lookup = nil
                self.lookingUp += asked.duration(to: .now)
                guard !self.closed else {
                    prepared.device?.release(clean: false)
                    return
                }
                self.opened = prepared.device
                if self.perform(self.negotiation.resolve(prepared.found)) { self.run() }
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

    /// Writes `bytes` and counts them (here and in `memory`) until the socket has them.
    private func send(_ bytes: ByteBuffer) {
        guard let channel else { return }
        let size = bytes.readableBytes
        if inFlight == 0 { lastTaken = .now }
        inFlight += size
        memory.take(size)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            self.memory.give(size)
            self.queue.async {
                let paused = self.inFlight >= NBDConnectionHandler.replyLimit
                self.inFlight -= size
                self.lastTaken = .now
                if paused, self.inFlight < NBDConnectionHandler.replyLimit {
                    self.run()
                } else if self.heldBack, self.inFlight == 0 {
                    self.run()
                }
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
        lookup?.cancel()
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
