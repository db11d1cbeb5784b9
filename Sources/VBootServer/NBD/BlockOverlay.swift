import Foundation
import Glibc
import NIOCore

/// A machine's writable view of a shared, read-only base image: blocks it wrote live in its own
/// sparse file, every other block is read from the base. The base is never written, so one copy
/// on the server (and in its page cache) serves every machine.
///
/// A persistent overlay keeps its block map beside its data (`NAME.map`, written on flush: the
/// data first, synced, then the map by rename), bound to the base's SHA-256: a map made over
/// another base is not applied to this one. A scratch overlay lives only while it is open.
final class BlockOverlay: @unchecked Sendable {
    struct OverlayError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The unit of copy-on-write: Linux file systems write whole 4 KiB blocks.
    static let blockSize = 4096
    static let mapMagic = "vboot-overlay 1\n"

    let size: UInt64
    private let base: Int32
    private let data: Int32
    /// One bit per block: 1 = the overlay's copy.
    private var map: [UInt64]
    private var mapChanged = false
    private let mapPath: String?
    private let baseDigest: String
    private let lock = NSLock()

    /// `dataPath` nil: a scratch overlay (an unlinked file in `scratchDirectory`).
    init(base basePath: String, baseDigest: String, dataPath: String?, scratchDirectory: String) throws {
        base = open(basePath, O_RDONLY | O_CLOEXEC)
        guard base >= 0 else { throw OverlayError("cannot open \(basePath): \(String(cString: strerror(errno)))") }
        var info = stat()
        fstat(base, &info)
        size = UInt64(info.st_size)
        self.baseDigest = baseDigest
        let blocks = Int((size + UInt64(Self.blockSize) - 1) / UInt64(Self.blockSize))
        map = [UInt64](repeating: 0, count: (blocks + 63) / 64)
        if let dataPath {
            mapPath = dataPath + ".map"
            try? FileManager.default.createDirectory(
                atPath: (dataPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            data = open(dataPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        } else {
            mapPath = nil
            var template = Array((scratchDirectory + "/.vboot-scratch-XXXXXX").utf8CString)
            data = mkstemp(&template)
            if data >= 0 { unlink(template) }
        }
        guard data >= 0 else {
            close(base)
            throw OverlayError("cannot open the overlay: \(String(cString: strerror(errno)))")
        }
        if let mapPath, let saved = FileManager.default.contents(atPath: mapPath) {
            guard let loaded = Self.parseMap(saved, digest: baseDigest, words: map.count) else {
                close(base)
                close(data)
                throw OverlayError(
                    "\(mapPath) was made over another base image (or is damaged): move it and its data aside to start afresh"
                )
            }
            map = loaded
        }
        guard ftruncate(data, off_t(size)) == 0 else {
            close(base)
            close(data)
            throw OverlayError("cannot size the overlay: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(base)
        close(data)
    }

    /// Blocks written so far.
    var blocksWritten: Int { lock.withLock { map.reduce(0) { $0 + $1.nonzeroBitCount } } }

    func read(offset: UInt64, length: Int, into buffer: inout ByteBuffer) throws {
        try lock.withLock {
            buffer.reserveCapacity(minimumWritableBytes: length)
            var done = 0
            while done < length {
                let position = offset + UInt64(done)
                let block = Int(position / UInt64(Self.blockSize))
                // A run of blocks from one side, read with one call.
                let mine = isMapped(block)
                var end = block + 1
                let lastBlock = Int((offset + UInt64(length) - 1) / UInt64(Self.blockSize))
                while end <= lastBlock, isMapped(end) == mine { end += 1 }
                let runEnd = min(offset + UInt64(length), UInt64(end) * UInt64(Self.blockSize))
                let count = Int(runEnd - position)
                try Self.readFully(mine ? data : base, at: position, count: count, into: &buffer)
                done += count
            }
        }
    }

    func write(offset: UInt64, bytes: ByteBufferView) throws {
        try lock.withLock {
            try copyIn(offset: offset, length: bytes.count) { slice, at in
                let start = bytes.index(bytes.startIndex, offsetBy: at)
                let part = bytes[start..<bytes.index(start, offsetBy: slice)]
                return part.withContiguousStorageIfAvailable { Array($0) } ?? Array(part)
            }
        }
    }

    func writeZeroes(offset: UInt64, length: Int) throws {
        try lock.withLock {
            try copyIn(offset: offset, length: length) { slice, _ in [UInt8](repeating: 0, count: slice) }
        }
    }

    /// The data on stable storage, then the map (persistent overlays).
    func flush() throws {
        try lock.withLock {
            guard fdatasync(data) == 0 else { throw OverlayError("fdatasync: \(String(cString: strerror(errno)))") }
            guard let mapPath, mapChanged else { return }
            let temporary = mapPath + ".new"
            let encoded = Self.encodeMap(map, digest: baseDigest)
            guard FileManager.default.createFile(atPath: temporary, contents: encoded) else {
                throw OverlayError("cannot write \(temporary)")
            }
            let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
            if descriptor >= 0 {
                fsync(descriptor)
                close(descriptor)
            }
            guard rename(temporary, mapPath) == 0 else {
                throw OverlayError("cannot replace \(mapPath): \(String(cString: strerror(errno)))")
            }
            mapChanged = false
        }
    }

    /// Writes `length` bytes at `offset`, block by block: a block not yet the overlay's is first
    /// copied from the base where the write does not cover it whole.
    private func copyIn(offset: UInt64, length: Int, bytes: (Int, Int) -> [UInt8]) throws {
        var done = 0
        let blockSize = UInt64(Self.blockSize)
        while done < length {
            let position = offset + UInt64(done)
            let block = Int(position / blockSize)
            let blockStart = UInt64(block) * blockSize
            let inBlock = Int(position - blockStart)
            let count = min(length - done, Self.blockSize - inBlock)
            let blockLength = Int(min(blockSize, size - blockStart))
            if !isMapped(block) && (inBlock != 0 || count != blockLength) {
                var whole = ByteBuffer()
                try Self.readFully(base, at: blockStart, count: blockLength, into: &whole)
                var merged = Array(whole.readableBytesView)
                merged.replaceSubrange(inBlock..<(inBlock + count), with: bytes(count, done))
                try Self.writeFully(data, at: blockStart, merged)
            } else {
                try Self.writeFully(data, at: position, bytes(count, done))
            }
            if !isMapped(block) {
                map[block / 64] |= 1 << UInt64(block % 64)
                mapChanged = true
            }
            done += count
        }
    }

    private func isMapped(_ block: Int) -> Bool { map[block / 64] & (1 << UInt64(block % 64)) != 0 }

    private static func readFully(
        _ descriptor: Int32, at offset: UInt64, count: Int, into buffer: inout ByteBuffer
    ) throws {
        var done = 0
        while done < count {
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - done) { pointer in
                pread(descriptor, pointer.baseAddress, count - done, off_t(offset) + off_t(done))
            }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw OverlayError(got == 0 ? "short read" : String(cString: strerror(errno))) }
            done += got
        }
    }

    private static func writeFully(_ descriptor: Int32, at offset: UInt64, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let wrote = bytes.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { throw OverlayError(String(cString: strerror(errno))) }
            done += wrote
        }
    }

    /// `vboot-overlay 1\n`, `sha256 <base digest>\n`, then the map's words, little-endian.
    static func encodeMap(_ map: [UInt64], digest: String) -> Data {
        var data = Data((mapMagic + "sha256 \(digest)\n").utf8)
        for word in map { withUnsafeBytes(of: word.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func parseMap(_ data: Data, digest: String, words: Int) -> [UInt64]? {
        let header = Data((mapMagic + "sha256 \(digest)\n").utf8)
        guard data.count == header.count + words * 8, data.prefix(header.count) == header else { return nil }
        let body = data.dropFirst(header.count)
        return (0..<words).map { index in
            let start = body.startIndex + index * 8
            return body[start..<(start + 8)].enumerated().reduce(UInt64(0)) {
                $0 | UInt64($1.element) << (8 * $1.offset)
            }
        }
    }
}
