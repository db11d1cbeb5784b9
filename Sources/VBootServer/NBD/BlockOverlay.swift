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

    /// Opens into locals and sets the stored properties last: a throw before that runs no
    /// `deinit`, so every descriptor is closed exactly once, here.
    init(base basePath: String, baseDigest: String, storage: Storage) throws {
        let base = open(basePath, O_RDONLY | O_CLOEXEC)
        guard base >= 0 else { throw OverlayError.system("cannot open \(basePath)") }
        var info = stat()
        fstat(base, &info)
        let size = UInt64(info.st_size)
        let blocks = Int((size + UInt64(Self.blockSize) - 1) / UInt64(Self.blockSize))
        var map = [UInt64](repeating: 0, count: (blocks + 63) / 64)
        var mapPath: String?
        var data: Int32 = -1
        do {
            switch storage {
            case .readOnly:
                break
            case .scratch(let directory):
                var template = Array((directory + "/.vboot-scratch-XXXXXX").utf8CString)
                data = mkstemp(&template)
                guard data >= 0 else { throw OverlayError.system("cannot make a scratch overlay in \(directory)") }
                unlink(template)
            case .persistent(let path):
                mapPath = path + ".map"
                try Self.makeDirectory((path as NSString).deletingLastPathComponent)
                data = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard data >= 0 else { throw OverlayError.system("cannot open \(path)") }
                // The new file's name on stable storage too, before anything is promised about it.
                Self.syncDirectory((path as NSString).deletingLastPathComponent)
            }
            if let mapPath, let saved = FileManager.default.contents(atPath: mapPath) {
                guard let loaded = Self.parseMap(saved, digest: baseDigest, words: map.count) else {
                    throw OverlayError(
                        "\(mapPath) was made over another base image (or is damaged): move it and its data aside to start afresh"
                    )
                }
                map = loaded
            }
            if data >= 0, ftruncate(data, off_t(size)) != 0 { throw OverlayError.system("cannot size the overlay") }
        } catch {
            close(base)
            if data >= 0 { close(data) }
            throw error
        }
        self.base = base
        self.data = data
        self.size = size
        self.map = map
        self.mapPath = mapPath
        self.baseDigest = baseDigest
    }

    /// Creates `path` and the directories above it, each new one synced into its parent.
    private static func makeDirectory(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path { try makeDirectory(parent) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw OverlayError.system("cannot make \(path)") }
        syncDirectory(parent)
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
