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
        /// The system's errno, when a call failed (ENOSPC is told to the client as such).
        var errno: Int32?
        init(_ description: String, errno: Int32? = nil) {
            self.description = description
            self.errno = errno
        }
        static func system(_ what: String, _ code: Int32 = Glibc.errno) -> Self {
            Self("\(what): \(String(cString: strerror(code)))", errno: code)
        }
    }

    /// Where the overlay's own blocks live.
    enum Storage: Hashable, Sendable {
        /// None: the base as it is (a write is a programming error: the export says read-only).
        case readOnly
        /// An unlinked file in this directory, gone with the overlay.
        case scratch(directory: String)
        /// This file and its `.map`, kept.
        case persistent(path: String)
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

    init(base basePath: String, baseDigest: String, storage: Storage) throws {
        base = open(basePath, O_RDONLY | O_CLOEXEC)
        guard base >= 0 else { throw OverlayError.system("cannot open \(basePath)") }
        var info = stat()
        fstat(base, &info)
        size = UInt64(info.st_size)
        self.baseDigest = baseDigest
        let blocks = Int((size + UInt64(Self.blockSize) - 1) / UInt64(Self.blockSize))
        map = [UInt64](repeating: 0, count: (blocks + 63) / 64)
        switch storage {
        case .readOnly:
            mapPath = nil
            data = -1
            return
        case .scratch(let directory):
            mapPath = nil
            var template = Array((directory + "/.vboot-scratch-XXXXXX").utf8CString)
            data = mkstemp(&template)
            if data >= 0 { unlink(template) }
        case .persistent(let path):
            mapPath = path + ".map"
            let directory = (path as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            data = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            // The new file's name on stable storage too, before anything is promised about it.
            if data >= 0 { Self.syncDirectory(directory) }
        }
        guard data >= 0 else {
            let code = errno
            close(base)
            throw OverlayError.system("cannot open the overlay", code)
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
            let code = errno
            close(base)
            close(data)
            throw OverlayError.system("cannot size the overlay", code)
        }
    }

    deinit {
        close(base)
        if data >= 0 { close(data) }
    }

    private static func syncDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
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
            guard data >= 0 else { throw OverlayError("the base is read-only", errno: EROFS) }
            try copyIn(offset: offset, length: bytes.count) { slice, at in
                let start = bytes.index(bytes.startIndex, offsetBy: at)
                let part = bytes[start..<bytes.index(start, offsetBy: slice)]
                return part.withContiguousStorageIfAvailable { Array($0) } ?? Array(part)
            }
        }
    }

    func writeZeroes(offset: UInt64, length: Int) throws {
        try lock.withLock {
            guard data >= 0 else { throw OverlayError("the base is read-only", errno: EROFS) }
            try copyIn(offset: offset, length: length) { slice, _ in [UInt8](repeating: 0, count: slice) }
        }
    }

    /// The data on stable storage, then the map (persistent overlays).
    func flush() throws {
        try lock.withLock {
            guard data >= 0 else { return }
            guard fdatasync(data) == 0 else { throw OverlayError.system("fdatasync") }
            guard let mapPath, mapChanged else { return }
            let temporary = mapPath + ".new"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw OverlayError.system("cannot write \(temporary)") }
            defer { close(descriptor) }
            try Self.writeFully(descriptor, at: 0, Array(Self.encodeMap(map, digest: baseDigest)))
            guard fsync(descriptor) == 0 else { throw OverlayError.system("fsync \(temporary)") }
            guard rename(temporary, mapPath) == 0 else { throw OverlayError.system("cannot replace \(mapPath)") }
            Self.syncDirectory((mapPath as NSString).deletingLastPathComponent)
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
            guard got > 0 else { throw got == 0 ? OverlayError("short read", errno: EIO) : OverlayError.system("read") }
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
            guard wrote > 0 else { throw OverlayError.system("write") }
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
