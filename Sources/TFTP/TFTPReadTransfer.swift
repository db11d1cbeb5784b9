/// The server side of one read transfer (RFC 1350 §2, windowed per RFC 7440 §4), as a value.
/// It decides which blocks to send and when; the I/O handler reads the file and moves datagrams.
///
/// Blocks are numbered from 1 as `Int`; the wire carries the low 16 bits, so files past
/// 65535 blocks roll over to block 0 as the common clients (EDK2, iPXE, curl, tftp-hpa) expect.
/// The retransmission timer follows the measured round trip (`TFTPRoundTripEstimate`) unless the
/// client negotiated a timeout, and backs off exponentially; the backed-off timer stays until a
/// window sent once is acknowledged (Karn). A client silent for as long as `maximumRetries`
/// retransmissions at the configured timeout would take is dropped, however short the measured
/// timer. A duplicate ACK resends the blocks after it at once, but only when it shows loss: once
/// per acknowledged block, never when it may answer a block the server sent twice, and only when
/// the blocks after it have been out for half a round trip (an ACK sent twice back to back shows
/// nothing). The Sorcerer's Apprentice (RFC 1123 §4.2.3.1) is a duplicate ACK answered by
/// duplicate DATA answered by a duplicate ACK; each of these rules breaks that loop on its own.
/// Its windowed form, new ACKs short of the window each answering a copy, is broken by resending
/// only the blocks already out the second time in a row.
public struct TFTPReadTransfer: Sendable {
    public enum Action: Hashable, Sendable {
        /// Send the OACK (RFC 2347) and wait for ACK 0.
        case sendOptionAcknowledgement([TFTPOption])
        /// Send these blocks, in order, as one window.
        case sendBlocks(ClosedRange<Int>)
        /// Nothing to send; keep waiting.
        case wait
        /// The last block is acknowledged.
        case complete
        /// Give up: send this error to the client and end.
        case abort(TFTPError)
        /// The client ended the transfer with an ERROR packet.
        case clientEnded(TFTPError)
        /// The client read the OACK and ended with error 8 before taking a block: EDK2's size
        /// probe (it asks for `tsize` first, then reads the file in a second transfer). Normal,
        /// not a failure.
        case sizeProbeEnded
    }

    public let fileSize: Int
    public let parameters: TFTPTransferParameters
    public let maximumRetries: Int
    /// How long a client may stay silent (no new block acknowledged) before the transfer is
    /// dropped: what `maximumRetries` retransmissions at the configured timeout, doubling, take.
    /// The measured timer only makes the server resend sooner, never give up sooner.
    public let patience: Duration
    /// The longest the whole transfer may take, from `start`; nil: as long as the client keeps
    /// acknowledging. A client that acknowledges one block just before each timeout would otherwise
    /// hold its transfer for as long as it likes.
    public let lifetime: Duration?
    /// Highest block number sent so far (0 before any DATA).
    public private(set) var highestSent = 0
    /// Highest block the client acknowledged (0 also means "OACK acknowledged").
    public private(set) var highestAcknowledged = 0
    public private(set) var retries = 0
    public private(set) var retransmittedBlocks = 0
    /// Windows resent because a duplicate ACK showed them lost, before the timer.
    public private(set) var promptResends = 0
    public private(set) var roundTrip: TFTPRoundTripEstimate
    /// When the timer should next fire, as a point on the injected clock: the next retransmission,
    /// or the end of the lifetime if that comes first.
    public var deadline: ContinuousClock.Instant? {
        guard let retransmitAt else { return nil }
        guard let expiry else { return retransmitAt }
        return min(retransmitAt, expiry)
    }
    /// True once the transfer was ended for outliving `lifetime`.
    public private(set) var expired = false
    private var retransmitAt: ContinuousClock.Instant?
    private var expiry: ContinuousClock.Instant?
    /// When the client's silence becomes too long: `patience` after the last progress.
    private var giveUpAt: ContinuousClock.Instant?
    private var awaitingOptionAcknowledgement: Bool
    private var currentTimeout: Duration
    private var finished = false
    /// The window being timed: when it was sent and its last block (0: the OACK). Only a window
    /// sent once is timed.
    private var timing: (sentAt: ContinuousClock.Instant, throughBlock: Int)?
    /// The highest block sent more than once. Resends start after the last ACK, so whether an
    /// acknowledged block went out twice is known when its ACK arrives.
    private var resentThrough = 0
    private var optionAcknowledgementResent = false
    /// The last acknowledged block (or the OACK) went out twice: a repeated ACK of it may answer
    /// the copy, and shows no loss.
    private var acknowledgedTwice = false
    /// The last ACK short of the window may have answered a copy, and restarted a whole window.
    private var restartedForACopy = false
    /// The acknowledged block whose duplicate ACK already had its prompt resend.
    private var promptlyResentAfter: Int?
    /// When the blocks after the last acknowledged one last went out.
    private var windowSentAt: ContinuousClock.Instant?

    /// The last block: a file that fills its last block exactly ends with an empty one.
    public var lastBlock: Int { fileSize / parameters.blockSize + 1 }

    public init(
        fileSize: Int, parameters: TFTPTransferParameters, maximumRetries: Int = 6, lifetime: Duration? = nil
    ) {
        self.fileSize = fileSize
        self.parameters = parameters
        self.maximumRetries = maximumRetries
        self.lifetime = lifetime
        self.awaitingOptionAcknowledgement = !parameters.acknowledgedOptions.isEmpty
        self.currentTimeout = parameters.timeout
        self.roundTrip = TFTPRoundTripEstimate(ceiling: parameters.timeout)
        self.patience = Self.backoffSchedule(from: parameters.timeout, retries: maximumRetries)
    }

    /// The longest interval between two sends of the same window.
    private var backoffCeiling: Duration { max(Self.backoffCap, parameters.timeout) }
    /// Backoff doubles up to 16 s, but never below a longer negotiated timeout (RFC 2349 allows
    /// up to 255 s).
    private static let backoffCap = Duration.seconds(16)

    /// The time from a send to the give-up when each of `retries` retransmissions waits twice as
    /// long as the one before, from `timeout`: 1 s and 6 retries make 1 + 2 + 4 + 8 + 16 + 16 + 16
    /// = 63 s.
    static func backoffSchedule(from timeout: Duration, retries: Int) -> Duration {
        var total = Duration.zero
        var interval = timeout
        for _ in 0...max(0, retries) {
            total += interval
            interval = min(interval * 2, max(backoffCap, timeout))
        }
        return total
    }

    /// The timeout after progress: the client's own if it negotiated one (RFC 2349), else the
    /// measured one.
    private var baseTimeout: Duration { parameters.timeoutNegotiated ? parameters.timeout : roundTrip.timeout }

    /// Byte range of `block` in the file.
    public func byteRange(ofBlock block: Int) -> Range<Int> {
        let start = min((block - 1) * parameters.blockSize, fileSize)
        return start..<min(start + parameters.blockSize, fileSize)
    }

    /// The first packet(s) of the transfer.
    public mutating func start(now: ContinuousClock.Instant) -> Action {
        retransmitAt = now + currentTimeout
        giveUpAt = now + patience
        expiry = lifetime.map { now + $0 }
        if awaitingOptionAcknowledgement {
            timing = (now, 0)
            return .sendOptionAcknowledgement(parameters.acknowledgedOptions)
        }
        return sendWindow(now: now)
    }

    public mutating func receive(_ packet: TFTPPacket, now: ContinuousClock.Instant) -> Action {
        guard !finished else { return .wait }
        switch packet {
        case .acknowledgement(let wireBlock):
            return acknowledge(wireBlock, now: now)
        case .error(let error):
            finish()
            if error.code == .optionNegotiationFailed, highestAcknowledged == 0 { return .sizeProbeEnded }
            return .clientEnded(error)
        case .readRequest, .writeRequest, .data, .optionAcknowledgement:
            // A repeated RRQ arrives at the listener, not here; anything else is a client bug.
            return .wait
        }
    }

    /// Called when the clock passes `deadline`: resend what is unacknowledged, or give up.
    public mutating func timerFired(now: ContinuousClock.Instant) -> Action {
        guard !finished, let deadline, now >= deadline else { return .wait }
        if let expiry, let lifetime, now >= expiry {
            finish()
            expired = true
            return .abort(TFTPError(.notDefined, "transfer not finished within \(lifetime.components.seconds) s"))
        }
        guard let retransmitAt, now >= retransmitAt else { return .wait }
        if let giveUpAt, now >= giveUpAt {
            finish()
            return .abort(TFTPError(.notDefined, "timed out: no acknowledgement for \(patience.components.seconds) s"))
        }
        retries += 1
        currentTimeout = min(currentTimeout * 2, backoffCeiling)
        self.retransmitAt = min(now + currentTimeout, giveUpAt ?? now + currentTimeout)
        if awaitingOptionAcknowledgement {
            timing = nil
            optionAcknowledgementResent = true
            return .sendOptionAcknowledgement(parameters.acknowledgedOptions)
        }
        return resendWindow(now: now)
    }

    /// The blocks after the last acknowledged one again, as one window (its tail may be new), or
    /// only those already out (`extending: false`).
    /// Not timed: an ACK may answer either copy (Karn, RFC 6298 §3).
    private mutating func resendWindow(now: ContinuousClock.Instant, extending: Bool = true) -> Action {
        let end = extending ? highestAcknowledged + parameters.windowSize : highestSent
        let range = (highestAcknowledged + 1)...min(end, lastBlock)
        let resent = min(range.upperBound, highestSent)
        if resent >= range.lowerBound {
            retransmittedBlocks += resent - range.lowerBound + 1
            resentThrough = max(resentThrough, resent)
        }
        highestSent = max(highestSent, range.upperBound)
        timing = nil
        windowSentAt = now
        return .sendBlocks(range)
    }

    private mutating func acknowledge(_ wireBlock: UInt16, now: ContinuousClock.Instant) -> Action {
        if awaitingOptionAcknowledgement {
            guard wireBlock == 0 else { return .wait }
            awaitingOptionAcknowledgement = false
            acknowledgedTwice = optionAcknowledgementResent
            progress(through: 0, now: now)
            return sendWindow(now: now)
        }
        // Map the 16-bit number onto the blocks in flight: highestAcknowledged ... highestSent.
        let distance = Int(wireBlock &- UInt16(truncatingIfNeeded: highestAcknowledged))
        let block = highestAcknowledged + distance
        guard distance > 0, block <= highestSent else {
            return distance == 0 ? repeatedAcknowledgement(now: now) : .wait
        }
        highestAcknowledged = block
        acknowledgedTwice = block <= resentThrough
        progress(through: block, now: now)
        if block == lastBlock {
            finish()
            return .complete
        }
        // An ACK short of the window's end means loss: RFC 7440 §4 restarts after it (the client
        // drops what follows a gap), and that is this block's prompt resend.
        if block < highestSent {
            promptlyResentAfter = block
            // Twice in a row it may answer a copy: then the server is chasing EDK2, which
            // acknowledges every out-of-order block, copies included, and counts its next window
            // from that ACK. The blocks after it are most likely still on their way; another
            // whole window from here would arrive as copies again, each answered short of the
            // window, and every block would go out twice. Sending only what is out makes the
            // client's ACK of the last copy a window's end again. Once is left to restart a whole
            // window: a client that drops what follows a gap (atftp) would otherwise wait for the
            // timer after every reordered copy.
            let realign = acknowledgedTwice && restartedForACopy
            restartedForACopy = acknowledgedTwice && !realign
            return resendWindow(now: now, extending: !realign)
        }
        restartedForACopy = false
        return sendWindow(now: now)
    }

    /// The last ACK again: the client timed out waiting (its blocks were lost), or it answers a
    /// block it was sent twice, or (windowed) the window's first block was lost.
    private mutating func repeatedAcknowledgement(now: ContinuousClock.Instant) -> Action {
        guard let current = retransmitAt else { return .wait }
        // Either way the client is alive and waiting: the timer need not wait out its backoff
        // (the backoff itself stays, Karn: this ACK measures nothing).
        retransmitAt = min(current, now + baseTimeout)
        guard !acknowledgedTwice, promptlyResentAfter != highestAcknowledged, let windowSentAt,
            now - windowSentAt >= (roundTrip.smoothed ?? roundTrip.timeout) / 2
        else { return .wait }
        promptlyResentAfter = highestAcknowledged
        promptResends += 1
        retransmitAt = now + baseTimeout
        return resendWindow(now: now)
    }

    private mutating func progress(through block: Int, now: ContinuousClock.Instant) {
        if let timing, block >= timing.throughBlock {
            roundTrip.add(now - timing.sentAt)
            self.timing = nil
            currentTimeout = baseTimeout
        } else if answersTheLastSend(now: now) {
            // The ACK came a round trip after the resend: it answers the copy, the loss was real
            // and the estimate stands.
            currentTimeout = baseTimeout
        }
        // Otherwise Karn's rule: the backed-off timer stays until a window sent once is
        // acknowledged. The ACK may answer the first copy on a path slower than the timer, and
        // resetting would resend every window until the estimate learnt (which it cannot from
        // resent windows).
        retries = 0
        retransmitAt = now + currentTimeout
        giveUpAt = now + patience
    }

    /// Whether an ACK now comes too soon after the last send to answer an earlier copy, on the
    /// path measured so far (within two smoothed round trips and the timer granularity).
    private func answersTheLastSend(now: ContinuousClock.Instant) -> Bool {
        guard let smoothed = roundTrip.smoothed, let windowSentAt else { return false }
        return now - windowSentAt <= smoothed * 2 + TFTPRoundTripEstimate.granularity
    }

    private mutating func finish() {
        finished = true
        retransmitAt = nil
    }

    /// The window after the last acknowledged block, all of it sent for the first time.
    private mutating func sendWindow(now: ContinuousClock.Instant) -> Action {
        let first = highestAcknowledged + 1
        let last = min(highestAcknowledged + parameters.windowSize, lastBlock)
        highestSent = max(highestSent, last)
        if timing == nil { timing = (now, last) }
        windowSentAt = now
        return .sendBlocks(first...last)
    }
}
