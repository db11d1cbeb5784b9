import Foundation
import Testing

@testable import VBootServer

/// What keeps the cache current and bounded, over real sockets with a vboot as the mirror (it
/// answers If-None-Match / If-Modified-Since with 304 like any web server): revalidation after
/// --cache-max-age, the copy kept when the upstream cannot be asked, offline mode, the size
/// bound, a pin that changed, and upstreams named by profiles.
@Suite("Upstream asset cache: revalidation, offline, size bound", .serialized)
struct AssetCacheCareTests {
    typealias Fixture = AssetCacheTests
    static let url = "/assets/debian/\(Fixture.path)"

    /// Outside #expect: a failed comparison of megabytes makes swift-testing diff them for ever.
    static func eventually(_ condition: () -> Bool) async {
        for _ in 0..<100 where !condition() { try? await Task.sleep(for: .milliseconds(50)) }
    }

    static func same(_ bytes: [UInt8]?, _ expected: [UInt8]) -> Bool { bytes == expected }

    @Test func anOldCopyIsAskedAboutKeptWhenUnchangedAndReplacedWhenChanged() async throws {
        let (mirror, vboot) = try await Fixture.servers { $0.cache.maxAge = .zero }
        let same1 = Self.same(Array(try await Fixture.get(Self.url, vboot).body), Fixture.initrd)
        #expect(same1)
        let again = try await Fixture.get(Self.url, vboot)
        #expect(again.status == 200)
        let same2 = Self.same(Array(again.body), Fixture.initrd)
        #expect(same2)
        #expect(vboot.server.counters[.cacheRevalidations] == 1)
        #expect(vboot.server.counters[.cacheNotModified] == 1)
        // The 304 carried no body: the mirror sent the file once.
        #expect(mirror.server.counters[.httpFilesServed] == 1)
        let record = try #require(
            CacheLayout(directory: vboot.root.appendingPathComponent("cache").path).record(
                "debian/\(Fixture.path)"))
        #expect(record.sha256 == Fixture.sha256(Fixture.initrd))
        #expect(record.etag != nil && record.lastModified != nil)

        let changed = Array(Fixture.initrd.reversed().prefix(1_000_000))
        try mirror.write(changed, to: "assets/\(Fixture.path)")
        let fresh = try await Fixture.get(Self.url, vboot)
        let same3 = Self.same(Array(fresh.body), changed)
        #expect(same3)
        #expect(mirror.server.counters[.httpFilesServed] == 2)
        let cached = vboot.root.appendingPathComponent("cache/debian/\(Fixture.path)").path
        let same4 = Self.same(FileManager.default.contents(atPath: cached).map(Array.init), changed)
        #expect(same4)
        await vboot.stop()
        await mirror.stop()
    }

    /// `vboot assets fetch` replaces a file and its record beside the running server: the server
    /// reads the new record, even for a file of the same size.
    @Test func aFileReplacedByAnotherProcessHasItsRecordReadAgain() async throws {
        let (mirror, vboot) = try await Fixture.servers { $0.cache.maxAge = .seconds(3_600) }
        _ = try await Fixture.get(Self.url, vboot)
        _ = try await Fixture.get(Self.url, vboot)
        #expect(vboot.server.counters[.cacheRevalidations] == 0)
        let layout = CacheLayout(directory: vboot.root.appendingPathComponent("cache").path)
        let key = "debian/\(Fixture.path)"
        var record = try #require(layout.record(key))
        record.validated = Date().addingTimeInterval(-7_200)
        // As CacheFill publishes: data renamed into place, then its record.
        let replacement = layout.directory + "/replacement"
        try Data(Fixture.initrd).write(to: URL(fileURLWithPath: replacement))
        #expect(rename(replacement, layout.dataPath(key)) == 0)
        try layout.write(record, for: key)
        let answer = try await Fixture.get(Self.url, vboot)
        #expect(answer.status == 200)
        #expect(vboot.server.counters[.cacheRevalidations] == 1, "the record in memory was taken for the new file")
        await vboot.stop()
        await mirror.stop()
    }

    @Test func anUpstreamThatCannotBeAskedLeavesTheCopyServed() async throws {
        let (mirror, vboot) = try await Fixture.servers { $0.cache.maxAge = .zero }
        #expect(try await Fixture.get(Self.url, vboot).status == 200)
        await mirror.stop()
        let stale = try await Fixture.get(Self.url, vboot)
        #expect(stale.status == 200)
        let same5 = Self.same(Array(stale.body), Fixture.initrd)
        #expect(same5)
        #expect(vboot.server.counters[.cacheStaleServed] == 1)
        await vboot.stop()
    }

    @Test func aFileGoneUpstreamIsNotServedFromItsCopy() async throws {
        let (mirror, vboot) = try await Fixture.servers { $0.cache.maxAge = .zero }
        #expect(try await Fixture.get(Self.url, vboot).status == 200)
        try FileManager.default.removeItem(at: mirror.root.appendingPathComponent("assets/\(Fixture.path)"))
        // The upstream answered: 404 is the client's answer too, not the old copy.
        let gone = try await Fixture.get(Self.url, vboot)
        #expect(gone.status == 404)
        #expect(vboot.server.counters[.cacheStaleServed] == 0)
        await vboot.stop()
        await mirror.stop()
    }

    @Test func offlineServesWhatIsCachedAndRefusesMisses() async throws {
        // Outside the servers' roots, which go when they stop.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (mirror, online) = try await Fixture.servers { $0.cache.directory = directory }
        #expect(try await Fixture.get(Self.url, online).status == 200)
        await online.stop()
        let offline = try TestServer { configuration, _ in
            configuration.upstreams = [Upstream("debian=http://127.0.0.1:\(mirror.port("http"))/assets")!]
            configuration.cache.directory = directory
            configuration.cache.mode = .offline
            configuration.cache.maxAge = .zero
        }
        try await offline.start(expecting: ["http"])
        let cached = try await Fixture.get(Self.url, offline)
        let same6 = Self.same(Array(cached.body), Fixture.initrd)
        #expect(same6)
        let miss = try await Fixture.get("/assets/debian/netboot/other", offline)
        #expect(miss.status == 502)
        #expect(miss.text.contains("not cached, and the cache is offline"))
        #expect(mirror.server.counters[.httpFilesServed] == 1)
        #expect(offline.server.counters[.cacheOfflineMisses] == 1)
        await offline.stop()
        await mirror.stop()
    }

    @Test func theSizeBoundRemovesTheLeastRecentlyUsedFile() async throws {
        let (mirror, vboot) = try await Fixture.servers { $0.cache.maxSize = 4_000_000 }
        try mirror.write(Array(Fixture.initrd.prefix(2_000_000)), to: "assets/netboot/other")
        #expect(try await Fixture.get(Self.url, vboot).status == 200)
        let other = try await Fixture.get("/assets/debian/netboot/other", vboot)
        #expect(other.body.count == 2_000_000)
        // The clients are answered before the fill's thread gets to the bound.
        await Self.eventually { vboot.server.counters[.cacheEvictions] == 1 }
        let cache = vboot.root.appendingPathComponent("cache").path
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/debian/\(Fixture.path)"))
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/.meta/debian/\(Fixture.path)"))
        #expect(FileManager.default.fileExists(atPath: "\(cache)/debian/netboot/other"))
        #expect(vboot.server.counters[.cacheEvictions] == 1)
        // Asked again: fetched again (and now the other one goes).
        let same7 = Self.same(Array(try await Fixture.get(Self.url, vboot).body), Fixture.initrd)
        #expect(same7)
        #expect(vboot.server.counters[.cacheMisses] == 3)
        await Self.eventually { vboot.server.counters[.cacheEvictions] == 2 }
        #expect(vboot.server.counters[.cacheEvictions] == 2)
        await vboot.stop()
        await mirror.stop()
    }

    @Test func aChangedPinFetchesTheFileAgain() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (mirror, first) = try await Fixture.servers(pin: Fixture.sha256(Fixture.initrd)) {
            $0.cache.directory = directory
        }
        #expect(try await Fixture.get(Self.url, first).status == 200)
        await first.stop()
        let changed = Array(Fixture.initrd.prefix(500_000))
        try mirror.write(changed, to: "assets/\(Fixture.path)")
        let second = try TestServer { configuration, _ in
            configuration.upstreams = [Upstream("debian=http://127.0.0.1:\(mirror.port("http"))/assets")!]
            configuration.cache.directory = directory
            configuration.cache.pins = ["debian/\(Fixture.path)": Fixture.sha256(changed)]
        }
        try await second.start(expecting: ["http"])
        let same8 = Self.same(Array(try await Fixture.get(Self.url, second).body), changed)
        #expect(same8)
        #expect(mirror.server.counters[.httpFilesServed] == 2)
        await second.stop()
        await mirror.stop()
    }

    @Test func aProfileNamesItsUpstream() async throws {
        let mirror = try TestServer()
        try mirror.write(Fixture.initrd, to: "assets/\(Fixture.path)")
        try await mirror.start(expecting: ["http"])
        let base = "http://127.0.0.1:\(mirror.port("http"))/assets"
        let vboot = try TestServer { configuration, root in
            configuration.cache.directory = root.appendingPathComponent("cache").path
        }
        try vboot.write(Array("#!ipxe\n#: upstream deb = \(base)\necho hello\n".utf8), to: "scripts/profiles/deb.ipxe")
        try await vboot.start(expecting: ["http"])
        let answer = try await Fixture.get("/assets/deb/\(Fixture.path)", vboot)
        let same9 = Self.same(Array(answer.body), Fixture.initrd)
        #expect(same9)
        #expect(try await Fixture.get("/assets/other/x", vboot).status == 404)
        // Two profiles, two mirrors for one name: which one is the admin's to say.
        try vboot.write(
            Array("#: upstream deb = http://127.0.0.1:1/elsewhere\n#: kernel {{assets}}/deb/linux\n".utf8),
            to: "scripts/profiles/deb2.profile")
        // The profiles' upstreams are read again every 2 s at most (AssetCache.declaredRefresh).
        try await Task.sleep(for: AssetCache.declaredRefresh + .milliseconds(100))
        let conflict = try await Fixture.get("/assets/deb/netboot/new", vboot)
        #expect(conflict.status == 502)
        #expect(conflict.text.contains("declared differently by the profiles"))
        await vboot.stop()
        await mirror.stop()
    }
}
