import Foundation
import Glibc
import Logging
import Testing

@testable import VBootServer

/// A LAN client asking for many different missing files cannot open an upstream transfer (and a
/// thread) for each: past the limit it is told to come back.
@Suite("Upstream asset cache: limits")
struct AssetCacheLimitTests {
    /// A TCP port that takes connections into its backlog and never answers: a mirror that hangs.
    static func silentListener() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        try #require(bound)
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func missesBeyondTheLimitAreBusyAndTheSameFileStillJoins() throws {
        let (listener, port) = try Self.silentListener()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let counters = ServerCounters()
        let cache = try AssetCache(
            directory: directory, upstreams: [Upstream("up=http://127.0.0.1:\(port)")!], settings: CacheSettings(),
            counters: counters, logger: Logger(label: "test"), fillLimit: 2)
        var filling = 0
        for path in ["up/a", "up/b", "up/a"] {
            if case .filling = cache.lookup(path) { filling += 1 }
        }
        #expect(filling == 3)
        guard case .busy = cache.lookup("up/c") else {
            Issue.record("a third file at once was not refused")
            return
        }
        #expect(counters[.cacheMisses] == 2)
        #expect(counters[.cacheCoalesced] == 1)
        #expect(counters[.cacheFillsRefused] == 1)
        // A copy that is due to be asked about is served as it is rather than a 503.
        try FileManager.default.createDirectory(atPath: directory + "/up", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: directory + "/up/z"))
        guard case .cached(_, let size) = cache.lookup("up/z") else {
            Issue.record("a cached copy was refused for want of a transfer")
            return
        }
        #expect(size == 3 && counters[.cacheStaleServed] == 1)
        guard case .badPath = cache.lookup("up/../etc/passwd") else {
            Issue.record("a path with .. was not refused")
            return
        }
        // Closing the listener resets the waiting connections: the fills end.
        close(listener)
    }

    /// Too busy to ask the upstream: a copy is served unasked only if its list vouched for it;
    /// else any LAN host filling the transfers could make vboot serve a copy nobody checked.
    @Test func tooBusyServesOnlyACopyItsListVouchedFor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let list = "http://127.0.0.1:1/SHA256SUMS"
        var settings = CacheSettings()
        settings.checksumLists = ["up": list]
        let counters = ServerCounters()
        let cache = try AssetCache(
            directory: directory, upstreams: [Upstream("up=http://127.0.0.1:1")!], settings: settings,
            counters: counters,
            logger: Logger(label: "test"), fillLimit: 0)
        try FileManager.default.createDirectory(atPath: directory + "/up", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: directory + "/up/z"))
        guard case .busy = cache.lookup("up/z") else {
            Issue.record("a copy its list never vouched for was served for want of a transfer")
            return
        }
        let layout = CacheLayout(directory: directory)
        try layout.write(
            CacheRecord(
                url: "http://127.0.0.1:1/z", size: 3, sha256: CacheHash.hex(Array("old".utf8)), etag: nil,
                lastModified: nil, validated: Date(timeIntervalSince1970: 0), checkedAgainst: list),
            for: "up/z")
        try Data("new".utf8).write(to: URL(fileURLWithPath: directory + "/up/y"))
        try layout.write(
            CacheRecord(
                url: "http://127.0.0.1:1/y", size: 3, sha256: CacheHash.hex(Array("new".utf8)), etag: nil,
                lastModified: nil, validated: Date(timeIntervalSince1970: 0), checkedAgainst: list),
            for: "up/y")
        guard case .cached(_, let size) = cache.lookup("up/y") else {
            Issue.record("a copy its list vouched for was refused for want of a transfer")
            return
        }
        #expect(size == 3 && counters[.cacheStaleServed] == 1)
    }

    @Test func oneClientCannotTakeEveryTransfer() throws {
        let (listener, port) = try Self.silentListener()
        defer { close(listener) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let counters = ServerCounters()
        var settings = CacheSettings()
        settings.fillsPerClient = 2
        let cache = try AssetCache(
            directory: directory, upstreams: [Upstream("up=http://127.0.0.1:\(port)")!], settings: settings,
            counters: counters, logger: Logger(label: "test"), fillLimit: 8)
        func fills(_ path: String, _ client: String?) -> Bool {
            if case .filling = cache.lookup(path, client: client) { return true }
            return false
        }
        #expect(cache.fillsPerClient == 2)
        #expect(fills("up/a", "10.0.0.7") && fills("up/b", "10.0.0.7"))
        #expect(!fills("up/c", "10.0.0.7"), "a third transfer for one client")
        #expect(fills("up/a", "10.0.0.7") && fills("up/b", "10.0.0.8"), "joining is not starting")
        #expect(fills("up/c", "10.0.0.8"), "another client still gets its own")
        let unbounded = ["up/d", "up/e", "up/f", "up/g", "up/i"].allSatisfy { fills($0, nil) }
        #expect(unbounded, "vboot assets is not a client")
        #expect(!fills("up/h", "10.0.0.9"), "the limit of all transfers still holds")
        #expect(counters[.cacheFillsRefused] == 2)
    }

    /// TFTP takes published copies only: never a download on its way or a record.
    @Test func tftpSeesPublishedFilesOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let counters = ServerCounters()
        let cache = try AssetCache(
            directory: directory, upstreams: [Upstream("up=http://127.0.0.1:1")!], settings: CacheSettings(),
            counters: counters, logger: Logger(label: "test"))
        for (path, text) in [
            ("up/linux", "kernel"), (".partial/0123-1", "half"), (".meta/up/linux", "{}"), ("gone/linux", "old"),
        ] {
            let full = directory + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        #expect(cache.published("up/linux")?.size == 6)
        #expect(counters[.cacheHits] == 1)
        // gone/: a copy of an upstream no longer configured, not found over HTTP either.
        for refused in [".partial/0123-1", ".meta/up/linux", "up", "up/../up/linux", "up/missing", "gone/linux"] {
            #expect(cache.published(refused) == nil, "\(refused)")
        }
        var store = BootFileStore(ipxeDirectories: [], assetsRoot: nil)
        store.cached = { cache.published($0) }
        #expect(try store.resolveTFTP("/up/linux").get().path == directory + "/up/linux")
        #expect(throws: BootFileStore.LookupError.self) { try store.resolveTFTP("/.partial/0123-1").get() }
    }
}
