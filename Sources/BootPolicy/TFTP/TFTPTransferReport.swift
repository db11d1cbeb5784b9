import TFTP

/// How one TFTP read transfer ended and what it moved: the engine reports it once per transfer,
/// and this says what the machine's timeline and the log make of it.
public struct TFTPTransferReport: Hashable, Sendable {
    public enum End: Hashable, Sendable {
        case completed
        /// EDK2 asks for `tsize` first and ends with ERROR 8 after the OACK: not a failure.
        case sizeProbe
        /// The client sent an ERROR.
        case clientEnded(TFTPError)
        /// The server ended it with this ERROR (`expired`: past its lifetime).
        case aborted(TFTPError, expired: Bool)
    }

    public var end: End
    public var file: String
    public var fileSize: Int
    public var blockSize: Int
    public var windowSize: Int
    public var resentBlocks: Int
    public var acknowledgedBlock: Int
    public var lastBlock: Int
    public var seconds: Double

    public init(_ end: End, transfer: TFTPReadTransfer, file: String, seconds: Double) {
        self.end = end
        self.file = file
        fileSize = transfer.fileSize
        blockSize = transfer.parameters.blockSize
        windowSize = transfer.parameters.windowSize
        resentBlocks = transfer.retransmittedBlocks
        acknowledgedBlock = transfer.highestAcknowledged
        lastBlock = transfer.lastBlock
        self.seconds = seconds
    }

    public var outcome: BootEvent.Outcome {
        switch end {
        case .completed: .ok
        case .sizeProbe: .aborted
        case .clientEnded, .aborted: .failed
        }
    }

    /// What happened, for people: "sent 1048576 bytes", "size probe (1048576 bytes)".
    public var what: String {
        switch end {
        case .completed: "sent \(fileSize) bytes"
        case .sizeProbe: "size probe (\(fileSize) bytes)"
        case .clientEnded(let error): "client ended the transfer: \(error.code) \(error.message)"
        case .aborted(let error, _): "\(error.message) at block \(acknowledgedBlock) of \(lastBlock)"
        }
    }

    /// The timeline's one line.
    public var summary: String { "\(file): \(what)" }

    /// The timeline's facts: the file, its size, the options and, for a whole transfer, how long.
    public var details: [String: String] {
        var details = [
            "file": file, "size": String(fileSize), "blksize": String(blockSize), "windowsize": String(windowSize),
        ]
        if end == .completed { details["duration_ms"] = String(Int((seconds * 1000).rounded())) }
        if resentBlocks > 0 { details["resent_blocks"] = String(resentBlocks) }
        return details
    }

    /// The options in the log line: "blksize 1468, windowsize 4, 3 blocks resent".
    public var optionSummary: String {
        let resent = resentBlocks > 0 ? ", \(resentBlocks) blocks resent" : ""
        return "blksize \(blockSize), windowsize \(windowSize)\(resent)"
    }
}
