import BootPolicy
import Foundation
import Testing

@testable import VBootServer

/// The cache's pure decisions: freshness, eviction order, HTTP validators, setting values.
@Suite("Upstream asset cache: decisions")
struct CacheDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func record(validated: TimeInterval, sha256: String = "aa") -> CacheRecord {
        CacheRecord(
            url: "http://mirror/x", size: 1, sha256: sha256, etag: "\"1\"", lastModified: nil,
            validated: now.addingTimeInterval(-validated))
    }

    @Test func freshnessFollowsMaxAgeModeAndPin() {
        let day = Duration.seconds(86_400)
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: 60), pin: nil, maxAge: day, mode: .online, now: Self.now) == .serve)
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: 90_000), pin: nil, maxAge: day, mode: .online, now: Self.now)
                == .revalidate)
        // A clock set back makes the record "from the future": asked about, not trusted for ever.
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: -3_600), pin: nil, maxAge: day, mode: .online, now: Self.now)
                == .revalidate)
        #expect(CacheFreshness.decide(record: nil, pin: nil, maxAge: day, mode: .online, now: Self.now) == .revalidate)
        // `never`: a copy without a record is served as it is; only a list to check it against asks.
        #expect(CacheFreshness.decide(record: nil, pin: nil, maxAge: nil, mode: .online, now: Self.now) == .serve)
        #expect(
            CacheFreshness.decide(record: nil, pin: nil, maxAge: nil, mode: .online, list: "L", now: Self.now)
                == .revalidate)
        // A list the copy was not checked against asks at once, fresh or `never`; the one it was does not.
        var checked = Self.record(validated: 60)
        #expect(
            CacheFreshness.decide(record: checked, pin: nil, maxAge: nil, mode: .online, list: "L", now: Self.now)
                == .revalidate)
        checked.checkedAgainst = "L"
        #expect(
            CacheFreshness.decide(record: checked, pin: nil, maxAge: day, mode: .online, list: "L", now: Self.now)
                == .serve)
        #expect(
            CacheFreshness.decide(record: checked, pin: nil, maxAge: day, mode: .online, list: "M", now: Self.now)
                == .revalidate)
        // Offline: served as cached, whatever the list (nothing could check it).
        #expect(
            CacheFreshness.decide(record: nil, pin: nil, maxAge: day, mode: .offline, list: "L", now: Self.now)
                == .serve)
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: 90_000), pin: nil, maxAge: nil, mode: .online, now: Self.now)
                == .serve)
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: 90_000), pin: nil, maxAge: day, mode: .offline, now: Self.now)
                == .serve)
        // Pinned: never stale, but only its own content.
        #expect(
            CacheFreshness.decide(
                record: Self.record(validated: 9e6), pin: "aa", maxAge: day, mode: .online, now: Self.now)
                == .serve)
        if case .refetch(let reason) = CacheFreshness.decide(
            record: Self.record(validated: 1), pin: "bb", maxAge: day, mode: .online, now: Self.now)
        {
            #expect(reason.contains("not the pinned bb"))
        } else {
            Issue.record("a changed pin must fetch again")
        }
        if case .refetch(_) = CacheFreshness.decide(record: nil, pin: "bb", maxAge: day, mode: .offline, now: Self.now)
        {
        } else {
            Issue.record("a pinned file without a record is not served as if it matched")
        }
    }

    @Test func indexesAreAskedAboutWithinAMinute() {
        let day = Duration.seconds(86_400)
        for url in [
            "https://m/fedora/releases/43/Everything/x86_64/os/repodata/repomd.xml",
            "https://m/alma/9/BaseOS/x86_64/os/.treeinfo",
            "https://m/alpine/v3.23/main/x86_64/APKINDEX.tar.gz", "https://m/debian/dists/bookworm/InRelease",
            "https://m/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64/linux",
            "https://m/fedora/releases/41/Everything/x86_64/iso/Fedora-Everything-41-1.4-x86_64-CHECKSUM",
        ] {
            #expect(CacheFreshness.maxAge(of: url, configured: day) == .seconds(60), "\(url)")
        }
        #expect(CacheFreshness.maxAge(of: "https://m/fedora/os/Packages/b/bash-5.2.rpm", configured: day) == day)
        #expect(CacheFreshness.maxAge(of: "https://m/x/repomd.xml", configured: .seconds(5)) == .seconds(5))
        #expect(CacheFreshness.maxAge(of: "https://m/x/repomd.xml", configured: nil) == nil)
    }

    @Test func evictionTakesTheLeastRecentlyUsedAndSparesTheBusy() {
        let old = Self.now.addingTimeInterval(-3_000)
        var index = CacheIndex([
            CacheLayout.Entry(key: "u/a", size: 40, lastUsed: old),
            CacheLayout.Entry(key: "u/b", size: 40, lastUsed: old.addingTimeInterval(10)),
            CacheLayout.Entry(key: "u/c", size: 40, lastUsed: old.addingTimeInterval(20)),
        ])
        #expect(index.total == 120)
        // b used now: a then c are the oldest; a is busy.
        let firstUse = index.use("u/b", size: 40, at: Self.now)
        let secondUse = index.use("u/b", size: 40, at: Self.now.addingTimeInterval(1))
        // The access time is written once a minute at most.
        #expect(firstUse && !secondUse)
        let victims = index.evict(toFit: 80, keeping: ["u/a"])
        #expect(victims.map(\.key) == ["u/c"])
        #expect(index.total == 80)
        let none = index.evict(toFit: 100, keeping: [])
        #expect(none.isEmpty)
    }

    @Test func validatorsAnswerConditionalRequests() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-etag-\(UUID())").path
        defer { unlink(path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data("abc".utf8)))
        let validators = try #require(FileValidators(path: path))
        #expect(validators.notModified(ifNoneMatch: validators.etag, ifModifiedSince: nil))
        #expect(validators.notModified(ifNoneMatch: "\"x\", \(validators.etag)", ifModifiedSince: nil))
        #expect(!validators.notModified(ifNoneMatch: "\"x\"", ifModifiedSince: validators.lastModified))
        #expect(validators.notModified(ifNoneMatch: nil, ifModifiedSince: validators.lastModified))
        #expect(!validators.notModified(ifNoneMatch: nil, ifModifiedSince: "Thu, 01 Jan 1970 00:00:00 GMT"))
        #expect(!validators.notModified(ifNoneMatch: nil, ifModifiedSince: "yesterday"))
        #expect(FileValidators.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(FileValidators.httpDate(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        // Rewritten: a new tag.
        #expect(FileManager.default.createFile(atPath: path, contents: Data("abcd".utf8)))
        #expect(FileValidators(path: path)?.etag != validators.etag)
    }

    @Test func sizesAndAgesAsWritten() {
        #expect(CacheSize.parse("32G") == .some(32 << 30))
        #expect(CacheSize.parse("500m") == .some(500 << 20))
        #expect(CacheSize.parse("1048576") == .some(1_048_576))
        #expect(CacheSize.parse("unlimited") == .some(nil))
        for bad in ["", "G", "-1G", "1.5G", "0", "99999999999T"] { #expect(CacheSize.parse(bad) == nil, "\(bad)") }
        #expect(CacheAge.parse("12h") == .some(.seconds(43_200)))
        #expect(CacheAge.parse("0") == .some(.zero))
        #expect(CacheAge.parse("never") == .some(nil))
        for bad in ["", "12", "h", "1w", "-1d"] { #expect(CacheAge.parse(bad) == nil, "\(bad)") }
    }

    @Test func profilesDeclareUpstreams() throws {
        let profile = try Profile(
            name: "deb", source: "#!ipxe\n#: upstream deb-12 = https://deb.debian.org/debian/x\necho\n")
        #expect(profile.upstreams.map(\.name) == ["deb-12"])
        #expect(profile.upstreams.map(\.url) == ["https://deb.debian.org/debian/x"])
        for bad in [
            "#: upstream .x = http://a/b", "#: upstream deb = ftp://a/b", "#: upstream deb",
            "#: upstream a/b = http://a",
        ] {
            #expect(throws: Profile.HeaderError.self, "\(bad)") { try Profile(name: "deb", source: bad) }
        }
    }
}
