import Glibc
import NIOCore
import TFTP

/// One running transfer in the engine: its socket, its client, the transfer's state and where
/// its bytes come from. Touched only by the engine's thread.
final class TFTPTransferSlot {
    let fd: Int32
    let peer: sockaddr_in
    let peerAddress: SocketAddress
    let name: String
    var transfer: TFTPReadTransfer
    let source: TFTPBlockSource
    private let started = ContinuousClock.now
    /// For files read from disk: the last chunk read, so a transfer reads the disk once per chunk
    /// rather than once per block.
    private var readAhead: UnsafeMutableRawBufferPointer?
    private var readAheadStart = 0
    private var readAheadCount = 0
    /// Granted by the read-ahead budget: the chunk never grows past it (at least one block).
    let readAheadSize: Int

    init(fd: Int32, peer: sockaddr_in, start: TFTPTransferEngine.Start) {
        self.fd = fd
        self.peer = peer
        peerAddress = start.peer
        name = start.name
        transfer = start.transfer
        source = start.source
        readAheadSize = start.readAheadSize
    }

    /// Up to this many transfers, each reads 64 KiB at a time; past it, a window or 8 KiB: 500
    /// transfers at once held 32 MiB in 64 KiB chunks, while 8 KiB costs a pread per 5 blocks.
    /// Either way a window bigger than that is wanted whole, and the read-ahead budget decides.
    static let generousReadAheadLimit = 64

    static func readAheadSize(for parameters: TFTPTransferParameters, crowded: Bool) -> Int {
        crowded ? min(max(parameters.blockSize * parameters.windowSize, 8 * 1024), 64 * 1024) : 64 * 1024
    }

    /// The most blocks of `blockSize` one call of `withBytes` can give: a shared copy any, a
    /// file as many as its chunk holds (at least one).
    func blocksPerSpan(blockSize: Int) -> Int {
        switch source {
        case .shared: Int.max
        case .file: max(1, readAheadSize / blockSize)
        }
    }

    /// Calls `body` with a pointer to the file's bytes at `span.lowerBound` (nil for an empty
    /// span), valid for the call: into the shared copy, or into the read-ahead chunk, refilled
    /// when the span is not in it (a span is at most `blocksPerSpan` blocks). False when the file
    /// is shorter than the transfer expects.
    func withBytes(_ span: Range<Int>, _ body: (UnsafeRawPointer?) -> Void) -> Bool {
        guard !span.isEmpty else {
            body(nil)
            return true
        }
        switch source {
        case .shared(let copy):
            return copy.data.withUnsafeReadableBytes { bytes in
                guard span.upperBound <= bytes.count, let base = bytes.baseAddress else { return false }
                body(base + span.lowerBound)
                return true
            }
        case .file(let reader):
            if readAhead == nil || span.lowerBound < readAheadStart
                || span.upperBound > readAheadStart + readAheadCount
            {
                let size = readAheadSize
                guard span.count <= size else { return false }
                let chunk = readAhead ?? .allocate(byteCount: size, alignment: 16)
                readAhead = chunk
                let count = min(size, transfer.fileSize - span.lowerBound)
                guard count >= span.count, reader.read(into: chunk, offset: span.lowerBound, count: count) else {
                    readAheadCount = 0
                    return false
                }
                readAheadStart = span.lowerBound
                readAheadCount = count
            }
            body(UnsafeRawPointer(readAhead!.baseAddress! + (span.lowerBound - readAheadStart)))
            return true
        }
    }

    /// Makes sure the start of `span` is in memory before it is needed (a file's read-ahead
    /// chunk refilled with as much as it holds).
    func prefetch(_ span: Range<Int>) {
        guard case .file = source else { return }
        _ = withBytes(span.lowerBound..<min(span.upperBound, span.lowerBound + readAheadSize)) { _ in }
    }

    var elapsedSeconds: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Closes the file and frees the chunk; the slot is done (the engine gives back the budget
    /// and unpins a shared copy).
    func release() {
        if case .file(let reader) = source { reader.close() }
        readAhead?.deallocate()
        readAhead = nil
    }
}

/// Where a transfer's bytes come from: the shared copy of a hot file, or the file itself.
enum TFTPBlockSource: Sendable {
    case shared(SharedFileCopies.Copy)
    case file(FileReader)
}
