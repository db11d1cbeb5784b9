import BootPolicy
import Logging
import NIOCore
import TFTP

/// One read transfer on its own socket. It only moves datagrams: what to send and when comes
/// from `TFTPReadTransfer`. One timer per transfer, re-armed lazily: progress only moves the
/// deadline, the timer task checks it when it fires.
final class TFTPTransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private var transfer: TFTPReadTransfer
    private let source: TFTPBlockSource
    /// For files read from disk: the last chunk read, so lockstep transfers read the disk once
    /// per chunk rather than once per block. A chunk is a window or 8 KiB, whichever is more, up
    /// to 64 KiB: 500 transfers at once held 32 MiB in 64 KiB chunks.
    private var readAhead: ByteBuffer?
    private var readAheadStart = 0
    private var readAheadSize: Int {
        min(max(transfer.parameters.blockSize * transfer.parameters.windowSize, 8 * 1024), 64 * 1024)
    }
    private let peer: SocketAddress
    private let name: String
    private let environment: TFTPEnvironment
    private let started = ContinuousClock.now
    private var timer: Scheduled<Void>?
    /// When `timer` fires; an earlier deadline (a repeated ACK undoing the backoff) reschedules it.
    private var timerDeadline: ContinuousClock.Instant?
    private var finished = false

    init(
        transfer: TFTPReadTransfer, source: TFTPBlockSource, peer: SocketAddress, name: String,
        environment: TFTPEnvironment
    ) {
        self.transfer = transfer
        self.source = source
        self.peer = peer
        self.name = name
        self.environment = environment
    }

    func channelActive(context: ChannelHandlerContext) {
        environment.counters.increment("tftp_transfers_started")
        perform(transfer.start(now: .now), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == peer else {
            // RFC 1350 §4: a packet from another TID gets an error; the transfer goes on.
            let error = TFTPPacket.error(TFTPError(.unknownTransferID, "unknown transfer ID"))
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: error.encoded())),
                promise: nil)
            return
        }
        guard let packet = try? TFTPPacket(parsing: envelope.data) else {
            environment.counters.increment("tftp_packets_malformed")
            return
        }
        perform(transfer.receive(packet, now: .now), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable from a client that went away, and the like: the timer decides.
        environment.logger.debug("tftp: \(peer.compact) \(name): socket error \(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !finished {
            finished = true
            finish()
        }
    }

    private func perform(_ action: TFTPReadTransfer.Action, context: ChannelHandlerContext) {
        switch action {
        case .wait:
            break
        case .sendOptionAcknowledgement(let options):
            context.writeAndFlush(
                wrapOutboundOut(
                    AddressedEnvelope(remoteAddress: peer, data: TFTPPacket.optionAcknowledgement(options).encoded())),
                promise: nil)
        case .sendBlocks(let blocks):
            send(blocks, context: context)
        case .complete:
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            environment.counters.increment("tftp_transfers_completed")
            environment.counters.increment("tftp_bytes_sent", by: transfer.fileSize)
            timeline(.ok, "sent \(transfer.fileSize) bytes", seconds: seconds)
            environment.logger.info(
                "tftp: \(peer.compact) \(name): sent \(transfer.fileSize) bytes in \(String(format: "%.3f", seconds)) s (\(describeOptions())\(transfer.retransmittedBlocks > 0 ? ", \(transfer.retransmittedBlocks) blocks resent" : ""))"
            )
            close(context)
        case .abort(let error):
            environment.counters.increment("tftp_transfers_failed")
            timeline(.failed, "\(error.message) at block \(transfer.highestAcknowledged) of \(transfer.lastBlock)")
            environment.logger.warning(
                "tftp: \(peer.compact) \(name): \(error.message) at block \(transfer.highestAcknowledged) of \(transfer.lastBlock)"
            )
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: TFTPPacket.error(error).encoded())),
                promise: nil)
            close(context)
        case .clientEnded(let error):
            if error.code == .optionNegotiationFailed, transfer.highestAcknowledged == 0 {
                // EDK2 asks for tsize, reads the OACK and aborts with error 8 before the real read.
                environment.counters.increment("tftp_size_probes")
                timeline(.aborted, "size probe (\(transfer.fileSize) bytes)")
                environment.logger.debug("tftp: \(peer.compact) \(name): size probe (\(transfer.fileSize) bytes)")
            } else {
                environment.counters.increment("tftp_transfers_failed")
                timeline(.failed, "client ended the transfer: \(error.code) \(error.message)")
                environment.logger.warning(
                    "tftp: \(peer.compact) \(name): client ended the transfer: \(error.code) \(error.message)")
            }
            close(context)
        }
        armTimer(context: context)
    }

    private func send(_ blocks: ClosedRange<Int>, context: ChannelHandlerContext) {
        for block in blocks {
            let range = transfer.byteRange(ofBlock: block)
            var buffer = context.channel.allocator.buffer(capacity: 4 + range.count)
            buffer.writeInteger(TFTPOpcode.data.rawValue)
            buffer.writeInteger(UInt16(truncatingIfNeeded: block))
            guard copy(range, into: &buffer) else {
                perform(.abort(TFTPError(.notDefined, "file shrank while being read")), context: context)
                return
            }
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: buffer)), promise: nil)
        }
        context.flush()
    }

    /// Appends the file's bytes in `range` to `buffer`, from memory or the read-ahead chunk.
    private func copy(_ range: Range<Int>, into buffer: inout ByteBuffer) -> Bool {
        guard !range.isEmpty else { return true }
        switch source {
        case .memory(let data):
            guard let slice = data.getSlice(at: data.readerIndex + range.lowerBound, length: range.count) else {
                return false
            }
            buffer.writeImmutableBuffer(slice)
            return true
        case .file(let reader):
            let end = readAheadStart + (readAhead?.readableBytes ?? 0)
            if readAhead == nil || range.lowerBound < readAheadStart || range.upperBound > end {
                var chunk = readAhead ?? ByteBufferAllocator().buffer(capacity: readAheadSize)
                chunk.clear()
                let count = min(max(readAheadSize, range.count), transfer.fileSize - range.lowerBound)
                guard count >= range.count, reader.read(into: &chunk, offset: range.lowerBound, count: count) else {
                    return false
                }
                readAhead = chunk
                readAheadStart = range.lowerBound
            }
            guard let chunk = readAhead,
                let slice = chunk.getSlice(
                    at: chunk.readerIndex + range.lowerBound - readAheadStart, length: range.count)
            else { return false }
            buffer.writeImmutableBuffer(slice)
            return true
        }
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard !finished, let deadline = transfer.deadline else { return }
        if let scheduled = timerDeadline, timer != nil {
            guard deadline < scheduled else { return }
            timer?.cancel()
        }
        timerDeadline = deadline
        let delay = deadline - ContinuousClock.now
        let nanoseconds = max(
            0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            handler.value.timer = nil
            handler.value.timerDeadline = nil
            handler.value.perform(handler.value.transfer.timerFired(now: .now), context: loopBound.value)
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        timer = nil
        finish()
        context.close(promise: nil)
    }

    private func finish() {
        if case .file(let reader) = source { reader.close() }
        readAhead = nil
        environment.activeTransfers.release(peer)
    }

    private func timeline(_ outcome: BootEvent.Outcome, _ what: String, seconds: Double? = nil) {
        let p = transfer.parameters
        var details = [
            "file": name, "size": String(transfer.fileSize), "blksize": String(p.blockSize),
            "windowsize": String(p.windowSize),
        ]
        if let seconds { details["duration_ms"] = String(Int((seconds * 1000).rounded())) }
        if transfer.retransmittedBlocks > 0 { details["resent_blocks"] = String(transfer.retransmittedBlocks) }
        environment.recorder.record(.tftp, outcome, address: peer.ipv4, summary: "\(name): \(what)", details: details)
    }

    private func describeOptions() -> String {
        let p = transfer.parameters
        return "blksize \(p.blockSize), windowsize \(p.windowSize)"
    }
}

/// Where a transfer's bytes come from: a cached copy of a small hot file, or the file itself.
enum TFTPBlockSource: Sendable {
    case memory(ByteBuffer)
    case file(FileReader)
}
