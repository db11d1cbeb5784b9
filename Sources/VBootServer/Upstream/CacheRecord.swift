import Crypto
import Foundation
import Glibc

/// What the cache knows about a published file, kept beside it in `DIR/.meta/UPSTREAM/PATH`: where
/// it came from, its digest (checked by `vboot assets verify`, compared with a pin that changed)
/// and the validators the upstream gave, for a conditional request once it is `--cache-max-age` old.
public struct CacheRecord: Codable, Sendable, Equatable {
    public var url: String
    public var size: Int
    public var sha256: String
    public var etag: String?
    public var lastModified: String?
    /// When the upstream last vouched for this copy (it arrived, or a 304 said it is current).
    public var validated: Date
    /// The checksum list (its URL) that named this copy's digest; nil: none did. A copy of an
    /// upstream that has a list now but had none (or another) when it arrived is checked again.
    public var checkedAgainst: String?

    enum CodingKeys: String, CodingKey {
        case url, size, sha256, etag
        case lastModified = "last_modified"
        case validated
        case checkedAgainst = "checked_against"
    }
}

/// Where the cache keeps things under its directory. Upstream names cannot start with a dot, so
/// `.partial` and `.meta` beside the upstreams' directories never collide with a cached file
/// (a path below an upstream may hold dot files: `.treeinfo`).
public struct CacheLayout: Sendable {
    public static let partialDirectory = ".partial"
    public static let recordDirectory = ".meta"

    public let directory: String
    public init(directory: String) { self.directory = directory }

    public func dataPath(_ key: String) -> String { directory + "/" + key }
    public func recordPath(_ key: String) -> String { directory + "/" + Self.recordDirectory + "/" + key }
    public var partialPath: String { directory + "/" + Self.partialDirectory }

    /// `.partial/<digest of the key>-<pid>`: one name per file and process, so `vboot assets fetch`
    /// next to a running server never writes into the server's download.
    func partialPath(for key: String, process: Int32 = getpid()) -> String {
        let id = CacheHash.hex(Array(key.utf8)).prefix(32)
        return partialPath + "/" + id + "-" + String(process)
    }

    public func record(_ key: String) -> CacheRecord? {
        guard let data = FileManager.default.contents(atPath: recordPath(key)) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(CacheRecord.self, from: data)
    }

    /// Written whole (temporary file, fsync, rename): a crash leaves the old record or the new.
    func write(_ record: CacheRecord, for key: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(record)
        let path = recordPath(key)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = partialPath(for: key) + ".record"
        try FileManager.default.createDirectory(atPath: partialPath, withIntermediateDirectories: true)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw CacheFileError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CacheFileError("cannot write \(path): \(reason)")
        }
    }

    /// Removes a published file and its record; true when the file was there.
    @discardableResult
    public func remove(_ key: String) -> Bool {
        unlink(recordPath(key))
        return unlink(dataPath(key)) == 0
    }

    /// One published file as found on disk.
    public struct Entry: Sendable {
        public var key: String
        public var size: Int
        /// Last served (the cache sets the access time on use).
        public var lastUsed: Date
    }

    /// Every published file (not `.partial`, not `.meta`).
    public func published() -> [Entry] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var entries: [Entry] = []
        while let relative = walker.nextObject() as? String {
            if relative == Self.partialDirectory || relative == Self.recordDirectory {
                walker.skipDescendants()
                continue
            }
            var status = stat()
            guard stat(directory + "/" + relative, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            let used = Date(
                timeIntervalSince1970: Double(status.st_atim.tv_sec) + Double(status.st_atim.tv_nsec) / 1e9)
            entries.append(Entry(key: relative, size: Int(status.st_size), lastUsed: used))
        }
        return entries
    }

    /// Downloads in `.partial` left by a process that is gone (a crash, kill -9); a running
    /// `vboot assets fetch` or server keeps its own. Called before this process starts any (a
    /// server that is pid 1 in a container removes its previous life's leftovers too).
    func abandonedPartials() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: partialPath)) ?? []
        return names.filter { name in
            let stem = name.hasSuffix(".record") ? String(name.dropLast(".record".count)) : name
            guard let dash = stem.lastIndex(of: "-"), let process = Int32(stem[stem.index(after: dash)...]),
                process > 0
            else { return true }
            return process == getpid() || (kill(process, 0) != 0 && errno == ESRCH)
        }.map { partialPath + "/" + $0 }
    }

    /// Marks a file used now (LRU order that survives a restart; atime is unreliable under relatime).
    func touch(_ key: String) {
        // UTIME_NOW and UTIME_OMIT (linux/stat.h), which Swift does not import.
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)]
        _ = utimensat(AT_FDCWD, dataPath(key), &times, 0)
    }
}

struct CacheFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum CacheHash {
    static func hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}
