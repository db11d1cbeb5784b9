import BootPolicy
import Foundation
import Logging
import Testing

@testable import VBootServer

/// Checksum lists over real sockets, laid out as Debian's mirror lays them out: the upstream is
/// `.../images/netboot/debian-installer/amd64`, the list `.../images/SHA256SUMS` names
/// `./netboot/debian-installer/amd64/initrd.gz`.
@Suite("Upstream asset cache: checksum lists", .serialized)
struct AssetCacheChecksumTests {
    typealias Fixture = AssetCacheTests
    static let directory = "netboot/debian-installer/amd64"
    static let other = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// A mirror with the initrd, `linux` (other bytes), `unlisted` and `tampered`, and a list
    /// that names the first two rightly, `tampered` wrongly and `unlisted` not at all.
    static func mirror() async throws -> (TestServer, String) {
        let mirror = try TestServer()
        for name in ["initrd.gz", "tampered"] { try mirror.write(Fixture.initrd, to: "assets/\(directory)/\(name)") }
        for name in ["linux", "unlisted"] { try mirror.write(other, to: "assets/\(directory)/\(name)") }
        let list = """
            \(Fixture.sha256(Fixture.initrd))  ./\(directory)/initrd.gz
            SHA256 (\(directory)/linux) = \(Fixture.sha256(other).uppercased())
            \(Fixture.sha256(other)) *./\(directory)/tampered
            \(Fixture.sha256(other))  ./\(directory)/../amd64/unlisted

            """
        try mirror.write(Array(list.utf8), to: "assets/SHA256SUMS")
        try await mirror.start(expecting: ["http"])
        return (mirror, "http://127.0.0.1:\(mirror.port("http"))/assets")
    }

    @Test func filesTheListVouchesForArePublishedOthersRefused() async throws {
        let (mirror, base) = try await Self.mirror()
        let vboot = try TestServer { configuration, root in
            configuration.upstreams = [Upstream("deb=\(base)/\(Self.directory)")!]
            configuration.cache.checksumLists = ["deb": "\(base)/SHA256SUMS"]
            configuration.cache.directory = root.appendingPathComponent("cache").path
        }
        try await vboot.start(expecting: ["http"])
        let initrd = try await Fixture.get("/assets/deb/initrd.gz", vboot)
        let whole = Array(initrd.body) == Fixture.initrd
        #expect(initrd.status == 200 && whole)
        let linux = try await Fixture.get("/assets/deb/linux", vboot)
        let linuxWhole = Array(linux.body) == Self.other
        #expect(linux.status == 200 && linuxWhole)
        // The list was read once for both: two files and one list.
        #expect(mirror.server.counters[.httpFilesServed] == 3)
        for (name, reason) in [
            ("tampered", "is not \(Fixture.sha256(Self.other)) from \(base)/SHA256SUMS; refused"),
            ("unlisted", "is not named in the checksum list \(base)/SHA256SUMS; refused"),
        ] {
            _ = try? await Fixture.get("/assets/deb/\(name)", vboot)
            let refused = try await Fixture.get("/assets/deb/\(name)", vboot)
            #expect(refused.status == 502, "\(name)")
            #expect(refused.text.contains(reason), "\(name): \(refused.text)")
            let cached = vboot.root.appendingPathComponent("cache/deb/\(name)").path
            #expect(!FileManager.default.fileExists(atPath: cached), "\(name)")
        }
        #expect(vboot.server.counters[.cacheVerificationFailures] == 2)
        await vboot.stop()
        await mirror.stop()
    }

    @Test func aProfileNamesItsListAndAListThatCannotBeReadRefuses() async throws {
        let (mirror, base) = try await Self.mirror()
        let vboot = try TestServer { configuration, root in
            configuration.cache.directory = root.appendingPathComponent("cache").path
        }
        let profile = """
            #!ipxe
            #: upstream deb = \(base)/\(Self.directory)
            #: checksums deb = \(base)/SHA256SUMS
            #: upstream gone = \(base)/\(Self.directory)
            #: checksums gone = \(base)/missing/SHA256SUMS
            echo hello

            """
        try vboot.write(Array(profile.utf8), to: "scripts/profiles/deb.ipxe")
        try await vboot.start(expecting: ["http"])
        let initrd = try await Fixture.get("/assets/deb/initrd.gz", vboot)
        #expect(initrd.status == 200)
        _ = try? await Fixture.get("/assets/deb/tampered", vboot)
        let tampered = try await Fixture.get("/assets/deb/tampered", vboot)
        #expect(tampered.status == 502 && tampered.text.contains("SHA256SUMS; refused"))
        _ = try? await Fixture.get("/assets/gone/initrd.gz", vboot)
        let unchecked = try await Fixture.get("/assets/gone/initrd.gz", vboot)
        #expect(unchecked.status == 502)
        #expect(unchecked.text.contains("cannot be read (the upstream answered 404)"), "\(unchecked.text)")
        await vboot.stop()
        await mirror.stop()
    }

    /// Copies cached before the upstream had a list are checked against it on their next use:
    /// the 304 keeps one the list names, one it does not is removed, not served.
    @Test func copiesCachedBeforeTheListAreCheckedAgainstIt() async throws {
        let (mirror, base) = try await Self.mirror()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        func vboot(list: String?) async throws -> TestServer {
            let server = try TestServer { configuration, _ in
                configuration.upstreams = [Upstream("deb=\(base)/\(Self.directory)")!]
                if let list { configuration.cache.checksumLists = ["deb": list] }
                configuration.cache.directory = cache
            }
            try await server.start(expecting: ["http"])
            return server
        }
        /// What TFTP (which cannot wait for a check) is given with the list in force.
        func tftp(_ key: String) throws -> Bool {
            var settings = CacheSettings()
            settings.checksumLists = ["deb": "\(base)/SHA256SUMS"]
            let cache = try AssetCache(
                directory: cache, upstreams: [Upstream("deb=\(base)/\(Self.directory)")!], settings: settings,
                counters: ServerCounters(), logger: Logger(label: "test"))
            return cache.published(key) != nil
        }
        let before = try await vboot(list: nil)
        for name in ["initrd.gz", "tampered"] {
            #expect(try await Fixture.get("/assets/deb/\(name)", before).status == 200)
        }
        await before.stop()
        #expect(try !tftp("deb/initrd.gz"), "a copy no list has checked yet went to TFTP")

        // A list that cannot be read says nothing against the copies: they stay, served stale.
        let unreadable = try await vboot(list: "\(base)/missing/SHA256SUMS")
        let stale = try await Fixture.get("/assets/deb/tampered", unreadable)
        let staleWhole = Array(stale.body) == Fixture.initrd
        #expect(stale.status == 200 && staleWhole, "\(stale.text.prefix(300))")
        #expect(unreadable.server.counters[.cacheStaleServed] == 1)
        #expect(unreadable.server.counters[.cacheVerificationFailures] == 0)
        #expect(CacheLayout(directory: cache).record("deb/tampered")?.checkedAgainst == nil)
        await unreadable.stop()

        let after = try await vboot(list: "\(base)/SHA256SUMS")
        let kept = try await Fixture.get("/assets/deb/initrd.gz", after)
        let whole = Array(kept.body) == Fixture.initrd
        #expect(kept.status == 200 && whole)
        let layout = CacheLayout(directory: cache)
        #expect(layout.record("deb/initrd.gz")?.checkedAgainst == "\(base)/SHA256SUMS")
        let refused = try await Fixture.get("/assets/deb/tampered", after)
        #expect(refused.status == 502 && refused.text.contains("SHA256SUMS; refused"), "\(refused.text.prefix(300))")
        #expect(!FileManager.default.fileExists(atPath: layout.dataPath("deb/tampered")))
        #expect(after.server.counters[.cacheNotModified] == 1)
        #expect(after.server.counters[.cacheVerificationFailures] == 1)
        // Both were asked about with a conditional request: the mirror sent no file again.
        #expect(mirror.server.counters[.httpFilesServed] == 3)
        #expect(try tftp("deb/initrd.gz"), "a copy the list vouched for")
        await after.stop()
        await mirror.stop()
    }

    @Test func listsAsSha256sumAndBSDWriteThem() throws {
        let digest = String(repeating: "0a", count: 32)
        let signed = """
            -----BEGIN PGP SIGNED MESSAGE-----
            Hash: SHA256

            # Fedora-Server-43-x86_64-CHECKSUM
            SHA256 (images/pxeboot/vmlinuz) = \(digest.uppercased())
            \(digest)  ./netboot/linux
            \(digest) *bin/x.efi
            \(digest)  /etc/passwd
            \(digest)  ../up
            \(digest.prefix(63))  short
            MD5 (vmlinuz) = 0123
            -----BEGIN PGP SIGNATURE-----
            """
        let list = try ChecksumList(parsing: signed, listURL: "https://m/x/os/SHA256SUMS?x=1")
        for name in ["images/pxeboot/vmlinuz", "netboot/linux", "bin/x.efi"] {
            #expect(list.sha256(forFileAt: "https://m/x/os/\(name)") == digest, "\(name)")
        }
        #expect(list.digests.count == 3)
        let windows = try ChecksumList(parsing: "\(digest)  a\r\n\(digest)  b\r\n", listURL: "http://m/S")
        #expect(windows.sha256(forFileAt: "http://m/a") == digest && windows.sha256(forFileAt: "http://m/b") == digest)
        #expect(throws: ChecksumList.ParseError.self) {
            try ChecksumList(parsing: "<html>404</html>", listURL: "http://m/S")
        }
    }

    @Test func profilesDeclareChecksumsForTheirOwnUpstreams() throws {
        let profile = try Profile(
            name: "deb", source: "#: upstream d = https://m/a/b\n#: checksums d = https://m/a/SHA256SUMS\n")
        #expect(profile.upstreams == [.init(name: "d", url: "https://m/a/b", checksums: "https://m/a/SHA256SUMS")])
        for bad in [
            "#: checksums d = https://m/S", "#: upstream d = http://m/a\n#: checksums d = ftp://m/S",
            "#: upstream d = http://m/a\n#: checksums d = http://m/S\n#: checksums d = http://m/T",
            "#: upstream d = http://m/a\n#: upstream d = http://m/b",
        ] {
            #expect(throws: Profile.HeaderError.self, "\(bad)") { try Profile(name: "deb", source: bad) }
        }
    }
}
