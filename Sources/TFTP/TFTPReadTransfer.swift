/// The server side of one read transfer (RFC 1350 §2, windowed per RFC 7440 §4), as a value.
/// It decides which blocks to send and when; the I/O handler reads the file and moves datagrams.
///
/// Blocks are numbered from 1 as `Int`; the wire carries the low 16 bits, so files past
/// 65535 blocks roll over to block 0 as the common clients (EDK2, iPXE, curl, tftp-hpa) expect.
/// Duplicate or stale ACKs never trigger a send (RFC 1123 §4.2.3.1, Sorcerer's Apprentice);
/// only the retransmission timer resends, with exponential backoff.
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
    private var awaitingOptionAcknowledgement: Bool
    private var currentTimeout: Duration
    private var finished = false

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
    }

    /// Byte range of `block` in the file.
    public func byteRange(ofBlock block: Int) -> Range<Int> {
        let start = min((block - 1) * parameters.blockSize, fileSize)
        return start..<min(start + parameters.blockSize, fileSize)
    }

    /// The first packet(s) of the transfer.
    public mutating func start(now: ContinuousClock.Instant) -> Action {
        retransmitAt = now + currentTimeout
        expiry = lifetime.map { now + $0 }
        if awaitingOptionAcknowledgement { return .sendOptionAcknowledgement(parameters.acknowledgedOptions) }
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
        retries += 1
        guard retries <= maximumRetries else {
            finish()
            return .abort(TFTPError(.notDefined, "timed out after \(maximumRetries) retransmissions"))
        }
        // Double up to 16 s, but never below the negotiated timeout (RFC 2349 allows up to 255 s).
        currentTimeout = min(currentTimeout * 2, max(.seconds(16), parameters.timeout))
        self.retransmitAt = now + currentTimeout
        if awaitingOptionAcknowledgement { return .sendOptionAcknowledgement(parameters.acknowledgedOptions) }
        let range = (highestAcknowledged + 1)...min(highestAcknowledged + parameters.windowSize, lastBlock)
        retransmittedBlocks += range.count
        highestSent = max(highestSent, range.upperBound)
        return .sendBlocks(range)
    }

    private mutating func acknowledge(_ wireBlock: UInt16, now: ContinuousClock.Instant) -> Action {
        if awaitingOptionAcknowledgement {
            guard wireBlock == 0 else { return .wait }
            awaitingOptionAcknowledgement = false
            progress(now: now)
            return sendWindow(now: now)
        }
        // Map the 16-bit number onto the blocks in flight: highestAcknowledged ... highestSent.
        let distance = Int(wireBlock &- UInt16(truncatingIfNeeded: highestAcknowledged))
        let block = highestAcknowledged + distance
        guard distance > 0, block <= highestSent else {
            // A repeated ACK is never answered with data (that is the Sorcerer's Apprentice), but
            // it shows the client is alive and waiting: undo the backoff so the timer resends soon,
            // instead of after up to 16 s with clients that ignore repeated DATA.
            if distance == 0, let current = retransmitAt {
                currentTimeout = parameters.timeout
                retransmitAt = min(current, now + parameters.timeout)
            }
            return .wait
        }
        highestAcknowledged = block
        progress(now: now)
        if block == lastBlock {
            finish()
            return .complete
        }
        // An ACK short of the window's end means loss: RFC 7440 §4 restarts after it.
        if block < highestSent { retransmittedBlocks += min(highestSent, block + parameters.windowSize) - block }
        return sendWindow(now: now)
    }

    private mutating func progress(now: ContinuousClock.Instant) {
        retries = 0
        currentTimeout = parameters.timeout
        retransmitAt = now + currentTimeout
    }

    private mutating func finish() {
        finished = true
        retransmitAt = nil
    }

    private mutating func sendWindow(now: ContinuousClock.Instant) -> Action {
        let first = highestAcknowledged + 1
        let last = min(highestAcknowledged + parameters.windowSize, lastBlock)
        highestSent = max(highestSent, last)
        return .sendBlocks(first...last)
    }
}
