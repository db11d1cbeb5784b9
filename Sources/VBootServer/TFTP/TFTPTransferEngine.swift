import BootPolicy
import CLinux
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import TFTP

/// Runs TFTP read transfers after their RRQ: each on its own UDP socket (its transfer ID, RFC
/// 1350 §4), all driven by one thread's epoll loop. Lockstep TFTP is one datagram in, one out,
/// per block: through NIO that cost two recvmsg (the second only to hear EAGAIN), a buffer, an
/// envelope and a pipeline pass per block, and 32 transfers at once ran at 0.6× dnsmasq's
/// speed. Here a block costs one recvfrom and one sendto (a window: one sendmmsg, each
/// block read by the kernel from where it lies) with buffers reused for the engine's life; what
/// to send and when still comes from `TFTPReadTransfer`. Timers are the transfers' deadlines, checked every 10 ms.
/// `TFTPEngines` runs one per CPU; a transfer stays on the engine it started on.
final class TFTPTransferEngine: @unchecked Sendable {
    struct Start: Sendable {
        var transfer: TFTPReadTransfer
        var source: TFTPBlockSource
        var peer: SocketAddress
        var local: DHCPv4.IPv4Address
        var name: String
        var readAheadSize: Int
    }

    /// How often the timers are looked at: the granularity the round-trip estimate allows for.
    static let scanInterval = TFTPRoundTripEstimate.granularity

    private let counters: ServerCounters
    private let logger: Logger
    private let log: TFTPTransferLog
    private let activeTransfers: ActiveTransfers
    private let sharedFiles: SharedFileCopies
    private let incoming = NIOLockedValueBox<(starts: [Start], stopping: Bool, ended: Bool)>(([], false, false))
    private var epoll: Int32 = -1
    private var wakeup: Int32 = -1
    private let stopped = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(nil)
    private let finished = Atomic<Bool>(false)
    /// Transfers handed to this engine and not yet ended: what `TFTPEngines` balances by.
    private let load = Atomic<Int>(0)
    private let name: String

    // Touched only by the engine thread.
    private var slots: [Int32: TFTPTransferSlot] = [:]
    private var receiveBuffer = ByteBuffer()
    private let sender = TFTPDatagramSender()

    init(
        name: String = "vboot-tftp", log: TFTPTransferLog, activeTransfers: ActiveTransfers,
        sharedFiles: SharedFileCopies
    ) {
        self.name = name
        counters = log.counters
        logger = log.logger
        self.log = log
        self.activeTransfers = activeTransfers
        self.sharedFiles = sharedFiles
        receiveBuffer = ByteBufferAllocator().buffer(capacity: Self.receiveCapacity)
    }

    deinit {
        if epoll >= 0 { Glibc.close(epoll) }
        if wakeup >= 0 { Glibc.close(wakeup) }
    }

    /// The engine's thread, until `stop`. Call once.
    func start() throws {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeup))
        guard epoll >= 0, wakeup >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event) == 0 else {
            let error = errno
            // Left as never started: `stop` then returns at once.
            for fd in [epoll, wakeup] where fd >= 0 { Glibc.close(fd) }
            (epoll, wakeup) = (-1, -1)
            throw StartupError("TFTP cannot create its epoll set: errno \(error)")
        }
        let thread = Thread { [self] in
            run()
            shutDown()
            finished.store(true, ordering: .releasing)
            stopped.withLockedValue { $0.take() }?.resume()
        }
        thread.name = name
        thread.start()
    }

    /// Ends every running transfer and the thread.
    func stop() async {
        guard epoll >= 0 else { return }
        incoming.withLockedValue { $0.stopping = true }
        signal()
        await withCheckedContinuation { continuation in
            let resumeNow = stopped.withLockedValue { waiting -> Bool in
                if finished.load(ordering: .acquiring) { return true }
                waiting = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Transfers running on this engine (or handed to it and about to start); `Int.max` once
    /// its loop has ended, so no new transfer is given to it.
    var transfers: Int { incoming.withLockedValue { $0.ended } ? Int.max : load.load(ordering: .relaxed) }

    /// Hands a new transfer to the engine (from the port-69 listener); an engine whose loop has
    /// ended gives the transfer's place back at once (the client's retry finds another).
    func begin(_ start: Start) {
        load.add(1, ordering: .relaxed)
        let taken = incoming.withLockedValue { state in
            if !state.ended { state.starts.append(start) }
            return !state.ended
        }
        guard taken else { return abandon(start) }
        signal()
    }

    /// After the loop, for whatever reason it ended: every transfer's place goes back, and so do
    /// those handed over meanwhile.
    private func shutDown() {
        let starts = incoming.withLockedValue { state in
            state.ended = true
            defer { state.starts = [] }
            return state.starts
        }
        for start in starts { abandon(start) }
        for slot in slots.values { end(slot) }
        slots = [:]
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    // MARK: The loop

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var nextScan = ContinuousClock.now
        while true {
            let now = ContinuousClock.now
            if now >= nextScan {
                nextScan = scanTimers(now: now)
            }
            let wait = nextScan - now
            // With no transfer there is no timer: sleep until the eventfd brings one.
            let milliseconds =
                slots.isEmpty
                ? -1
                : max(
                    0, Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000) + 1)
            let count = epoll_wait(epoll, &events, Int32(events.count), milliseconds)
            guard count >= 0 else {
                if errno == EINTR { continue }
                logger.error("tftp: epoll_wait failed: errno \(errno)")
                break
            }
            for index in 0..<Int(count) {
                let fd = events[index].data.fd
                if fd == wakeup {
                    var value: UInt64 = 0
                    _ = read(wakeup, &value, 8)
                    let (starts, stopping) = incoming.withLockedValue { state in
                        defer { state.starts = [] }
                        return (state.starts, state.stopping)
                    }
                    if stopping {
                        for start in starts { abandon(start) }
                        return
                    }
                    for start in starts { open(start) }
                } else if let slot = slots[fd] {
                    receive(on: slot)
                }
            }
        }
    }

    /// Fires the due timers; returns when to look again.
    private func scanTimers(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        var next = now + Self.scanInterval
        for slot in Array(slots.values) {
            guard let deadline = slot.transfer.deadline else { continue }
            if now >= deadline {
                perform(slot.transfer.timerFired(now: now), for: slot)
            } else if deadline < next {
                next = deadline
            }
        }
        return next
    }

    private func open(_ start: Start) {
        let fd = socket(
            AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = start.local.networkOrder
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard fd >= 0, bound == 0, let peer = start.peer.sockaddrIPv4 else {
            logger.error("tftp: \(start.peer.compact) \(start.name): cannot open a transfer socket: errno \(errno)")
            if fd >= 0 { Glibc.close(fd) }
            abandon(start)
            return
        }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: fd))
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
        let slot = TFTPTransferSlot(fd: fd, peer: peer, start: start)
        slots[fd] = slot
        counters.increment(.tftpTransfersStarted)
        perform(slot.transfer.start(now: .now), for: slot)
    }

    private func abandon(_ start: Start) {
        load.subtract(1, ordering: .relaxed)
        switch start.source {
        case .file(let reader):
            reader.close()
            activeTransfers.giveBackReadAhead(start.readAheadSize)
        case .shared(let copy):
            sharedFiles.release(copy)
        case .generated:
            break
        }
        activeTransfers.release(start.peer)
    }

    static let receiveCapacity = 2048

    private func receive(on slot: TFTPTransferSlot) {
        var from = sockaddr_in()
        var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        receiveBuffer.clear()
        let got = receiveBuffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.receiveCapacity) { pointer in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    max(0, recvfrom(slot.fd, pointer.baseAddress, pointer.count, Int32(MSG_DONTWAIT), $0, &fromLength))
                }
            }
        }
        // An ICMP error from an earlier send (the client went away), or nothing: the timer decides.
        guard got > 0 else { return }
        guard from.sin_addr.s_addr == slot.peer.sin_addr.s_addr, from.sin_port == slot.peer.sin_port else {
            // RFC 1350 §4: a packet from another TID gets an error; the transfer goes on.
            send(
                TFTPPacket.error(TFTPError(.unknownTransferID, "unknown transfer ID")).encoded(), on: slot.fd, to: from)
            return
        }
        guard let packet = try? TFTPPacket(parsing: receiveBuffer) else {
            counters.increment(.tftpPacketsMalformed)
            return
        }
        perform(slot.transfer.receive(packet, now: .now), for: slot)
    }

    // MARK: Actions

    private func perform(_ action: TFTPReadTransfer.Action, for slot: TFTPTransferSlot) {
        switch action {
        case .wait:
            break
        case .sendOptionAcknowledgement(let options):
            send(TFTPPacket.optionAcknowledgement(options).encoded(), on: slot.fd, to: slot.peer)
        case .sendBlocks(let blocks):
            sendWindow(blocks, for: slot)
        case .complete:
            finish(slot, .completed)
        case .abort(let error):
            // Sent to the client (RFC 1350 §7).
            send(TFTPPacket.error(error).encoded(), on: slot.fd, to: slot.peer)
            finish(slot, .aborted(error, expired: slot.transfer.expired))
        case .sizeProbeEnded:
            finish(slot, .sizeProbe)
        case .clientEnded(let error):
            finish(slot, .clientEnded(error))
        }
    }

    private func finish(_ slot: TFTPTransferSlot, _ end: TFTPTransferReport.End) {
        log.record(
            TFTPTransferReport(end, transfer: slot.transfer, file: slot.name, seconds: slot.elapsedSeconds),
            client: slot.peerAddress)
        close(slot)
    }

    private func sendWindow(_ blocks: ClosedRange<Int>, for slot: TFTPTransferSlot) {
        guard sendBlocks(blocks, for: slot) else {
            return perform(.abort(TFTPError(.notDefined, "file shrank while being read")), for: slot)
        }
        // Read the next window's bytes now, while the client works on this one, not after
        // its ACK arrives (a 64 KiB pread on the round trip cost windowed transfers ~10 %).
        let next = slot.transfer.highestSent + 1
        if next <= slot.transfer.lastBlock {
            let last = min(next + slot.transfer.parameters.windowSize - 1, slot.transfer.lastBlock)
            slot.prefetch(
                slot.transfer.byteRange(ofBlock: next).lowerBound..<slot.transfer.byteRange(ofBlock: last).upperBound)
        }
    }

    /// The window as one sendmmsg (`TFTPDatagramSender`), one per piece of a window bigger than
    /// the read-ahead chunk.
    private func sendBlocks(_ blocks: ClosedRange<Int>, for slot: TFTPTransferSlot) -> Bool {
        // A file's read-ahead chunk may hold less than the window (the budget's grant): the
        // window then goes out in pieces, the chunk refilled between them.
        let perSpan = slot.blocksPerSpan(blockSize: slot.transfer.parameters.blockSize)
        var first = blocks.lowerBound
        while first <= blocks.upperBound {
            let last = first + min(perSpan - 1, blocks.upperBound - first)
            guard sendSpan(first...last, for: slot) else { return false }
            first = last + 1
        }
        return true
    }

    private func sendSpan(_ blocks: ClosedRange<Int>, for slot: TFTPTransferSlot) -> Bool {
        let transfer = slot.transfer
        let span =
            transfer.byteRange(ofBlock: blocks.lowerBound)
            .lowerBound..<transfer.byteRange(
                ofBlock: blocks.upperBound
            ).upperBound
        return slot.withBytes(span) { base in
            sender.sendData(blocks, from: base, byteRange: transfer.byteRange(ofBlock:), on: slot.fd, to: slot.peer)
        }
    }

    private func send(_ buffer: ByteBuffer, on fd: Int32, to peer: sockaddr_in) {
        buffer.withUnsafeReadableBytes { sender.send($0, on: fd, to: peer) }
    }

    private func close(_ slot: TFTPTransferSlot) {
        slots[slot.fd] = nil
        end(slot)
    }

    /// Closes the socket (which leaves the epoll set) and frees the client's place.
    private func end(_ slot: TFTPTransferSlot) {
        load.subtract(1, ordering: .relaxed)
        Glibc.close(slot.fd)
        slot.release()
        switch slot.source {
        case .file: activeTransfers.giveBackReadAhead(slot.readAheadSize)
        case .shared(let copy): sharedFiles.release(copy)
        case .generated: break
        }
        activeTransfers.release(slot.peerAddress)
    }
}

extension epoll_data_t {
    init(fd: Int32) {
        self.init()
        self.fd = fd
    }
}

extension SocketAddress {
    /// The IPv4 socket address, for the raw socket calls.
    var sockaddrIPv4: sockaddr_in? {
        guard case .v4(let address) = self else { return nil }
        return address.address
    }
}

extension DHCPv4.IPv4Address {
    /// For `sin_addr.s_addr`.
    var networkOrder: UInt32 {
        let o = octets
        return (UInt32(o[0]) << 24 | UInt32(o[1]) << 16 | UInt32(o[2]) << 8 | UInt32(o[3])).bigEndian
    }
}
