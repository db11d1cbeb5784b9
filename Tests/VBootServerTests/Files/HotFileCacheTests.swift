import Foundation
import NIOCore
import Testing

@testable import VBootServer

@Suite("Hot file cache")
struct HotFileCacheTests {
    /// A file last modified an hour ago (settled), unless `fresh`.
    static func file(_ bytes: [UInt8], fresh: Bool = false) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hot-\(UUID().uuidString)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        if !fresh {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: path)
        }
        return path
    }

    @Test func servesFromMemoryUntilTheFileChanges() throws {
        let cache = HotFileCache()
        let path = try Self.file(randomBytes(100_000, seed: 1))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try #require(cache.contents(of: path))
        #expect(Array(first.readableBytesView) == randomBytes(100_000, seed: 1))
        #expect(cache.totalBytes == 100_000)
        // Replaced (new inode, new size): read again, the old copy is dropped.
        let replacement = try Self.file(randomBytes(50_000, seed: 2))
        _ = rename(replacement, path)
        let second = try #require(cache.contents(of: path))
        #expect(Array(second.readableBytesView) == randomBytes(50_000, seed: 2))
        #expect(cache.totalBytes == 50_000)
    }

    @Test func bigFilesAreNotCachedAndTheTotalIsBounded() throws {
        let cache = HotFileCache(limits: .init(maximumFileSize: 60_000, maximumTotal: 100_000))
        let big = try Self.file(randomBytes(60_001, seed: 3))
        let a = try Self.file(randomBytes(60_000, seed: 4))
        let b = try Self.file(randomBytes(60_000, seed: 5))
        defer { for path in [big, a, b] { try? FileManager.default.removeItem(atPath: path) } }
        #expect(cache.contents(of: big) == nil)
        #expect(cache.contents(of: a) != nil)
        #expect(cache.contents(of: b) != nil)
        // Both do not fit: the least recently used went.
        #expect(cache.totalBytes == 60_000)
        #expect(cache.contents(of: "/nonexistent/file") == nil)
    }

    /// Two same-size writes within one file-time tick look alike by size, time and inode: a file
    /// changed within the last second is left to the caller to read from disk, so the second
    /// write is never missed.
    @Test func recentlyChangedFilesAreNotCached() throws {
        let cache = HotFileCache()
        let path = try Self.file(randomBytes(10_000, seed: 6), fresh: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(cache.contents(of: path) == nil)
        #expect(cache.totalBytes == 0)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -5)], ofItemAtPath: path)
        #expect(Array(try #require(cache.contents(of: path)).readableBytesView) == randomBytes(10_000, seed: 6))
        #expect(cache.totalBytes == 10_000)
    }
}
