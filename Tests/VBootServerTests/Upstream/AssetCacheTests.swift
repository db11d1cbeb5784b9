import Crypto
import Foundation
import Testing
import VBootServer

/// The pull-through cache end to end over real sockets: one vboot is the upstream mirror (its
/// assets directory over HTTP), another fetches from it with libcurl.
@Suite("Upstream asset cache", .serialized)
struct AssetCacheTests {
    static let initrd = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ ($0 >> 12)) }
    static let path = "netboot/debian-installer/amd64/initrd.gz"

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The mirror and a vboot with `--upstream debian=MIRROR/assets`.
    static func servers(
        pin: String? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> (mirror: TestServer, vboot: TestServer) {
        let mirror = try TestServer()
        try mirror.write(initrd, to: "assets/\(path)")
        try await mirror.start(expecting: ["http"])
        let base = "http://127.0.0.1:\(mirror.port("http"))/assets"
        let vboot = try TestServer { configuration, root in
            configuration.upstreams = [Upstream("debian=\(base)")!]
            configuration.cache.directory = root.appendingPathComponent("cache").path
            if let pin { configuration.cache.pins = ["debian/\(path)": pin] }
            configure(&configuration)
        }
        try await vboot.start(expecting: ["http"])
        return (mirror, vboot)
    }

    static func get(_ path: String, _ server: TestServer, headers: [String: String] = [:]) async throws -> HTTPCall {
        try await HTTPCall.run("GET", path, port: server.port("http"), headers: headers)
    }

    @Test func aMissIsFetchedOnceThenServedFromTheCache() async throws {
        let (mirror, vboot) = try await Self.servers(pin: Self.sha256(Self.initrd))
        let first = try await Self.get("/assets/debian/\(Self.path)", vboot)
        #expect(first.status == 200)
        #expect(Array(first.body) == Self.initrd)
        let cached = vboot.root.appendingPathComponent("cache/debian/\(Self.path)").path
        #expect(FileManager.default.contents(atPath: cached).map(Array.init) == Self.initrd)
        let second = try await Self.get("/assets/debian/\(Self.path)", vboot, headers: ["Range": "bytes=10-19"])
        #expect(second.status == 206)
        #expect(Array(second.body) == Array(Self.initrd[10...19]))
        #expect(vboot.server.counters[.cacheMisses] == 1)
        #expect(vboot.server.counters[.cacheHits] == 1)
        #expect(vboot.server.counters[.cacheUpstreamBytes] == Self.initrd.count)
        #expect(mirror.server.counters[.httpFilesServed] == 1)
        // The cache's own files (the record beside this one) are nobody's upstream.
        #expect(
            FileManager.default.fileExists(
                atPath: vboot.root.appendingPathComponent("cache/.meta/debian/\(Self.path)").path))
        #expect(try await Self.get("/assets/.meta/debian/\(Self.path)", vboot).status == 404)
        await vboot.stop()
        await mirror.stop()
    }

    @Test func simultaneousMissesShareOneUpstreamTransfer() async throws {
        let (mirror, vboot) = try await Self.servers()
        let clients = 20
        // A failed download counts as not intact instead of throwing: a throwing child cancels
        // the others, and URLSession's cancellation under load has deadlocked the test process.
        let intact = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    guard let answer = try? await Self.get("/assets/debian/\(Self.path)", vboot) else { return false }
                    return answer.status == 200 && Array(answer.body) == Self.initrd
                }
            }
            return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(intact == clients)
        #expect(mirror.server.counters[.httpFilesServed] == 1)
        #expect(vboot.server.counters[.cacheMisses] == 1)
        // Every other client joined the transfer or, once it was published, hit the cache.
        #expect(vboot.server.counters[.cacheCoalesced] + vboot.server.counters[.cacheHits] == clients - 1)
        await vboot.stop()
        await mirror.stop()
    }

    @Test func aFileThatFailsItsPinIsRefusedAndNeverCached() async throws {
        let (mirror, vboot) = try await Self.servers(pin: String(repeating: "ab", count: 32))
        // Its last byte is held back until verified: the client is cut short (or, if the failure
        // came first, told 502), never handed the whole bad file.
        let answer = try? await Self.get("/assets/debian/\(Self.path)", vboot)
        #expect(answer == nil || answer?.status == 502)
        // The next client is told at once, from the failure remembered: no second download.
        let again = try await Self.get("/assets/debian/\(Self.path)", vboot)
        #expect(again.status == 502)
        #expect(again.text.contains("is not the pinned"))
        #expect(vboot.server.counters[.cacheVerificationFailures] == 1)
        #expect(mirror.server.counters[.httpFilesServed] == 1)
        let cache = vboot.root.appendingPathComponent("cache").path
        #expect(!FileManager.default.fileExists(atPath: "\(cache)/debian/\(Self.path)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(cache)/.partial") == [])
        await vboot.stop()
        await mirror.stop()
    }

    @Test func upstreamErrorsAreTheClientsToo() async throws {
        let (mirror, vboot) = try await Self.servers()
        let missing = try await Self.get("/assets/debian/netboot/missing", vboot)
        #expect(missing.status == 404)
        #expect(missing.text.contains("the upstream answered 404"))
        await mirror.stop()
        let down = try await Self.get("/assets/debian/netboot/other", vboot)
        #expect(down.status == 502)
        #expect(down.text.hasPrefix("vboot cache: http://127.0.0.1:"))
        // A name that is not an upstream, and paths the cache will not fetch.
        #expect(try await Self.get("/assets/ubuntu/x", vboot).status == 404)
        #expect(try await Self.get("/assets/.partial/x", vboot).status == 404)
        // A dot file of an installer tree (Fedora's .treeinfo) is the upstream's to answer.
        #expect(try await Self.get("/assets/debian/os/.treeinfo", vboot).status == 502)
        // Escapes out of the upstream's tree, encoded so no client library tidies them away.
        for escape in ["/assets/debian/a%2F..%2F..%2Fx", "/assets/debian/%2E%2E/x", "/assets/debian/netboot/%2e"] {
            #expect(try await Self.get(escape, vboot).status == 403, "\(escape)")
        }
        await vboot.stop()
    }

    @Test func aLocalCopyWinsAndLeftoversOfACrashAreRemoved() async throws {
        let (mirror, vboot) = try await Self.servers { configuration in
            let partial = configuration.cache.directory! + "/.partial"
            try? FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: partial + "/0123", contents: Data([1, 2, 3]))
        }
        #expect(
            try FileManager.default.contentsOfDirectory(
                atPath: vboot.root.appendingPathComponent("cache/.partial").path) == [])
        try vboot.write(Array("local".utf8), to: "assets/debian/\(Self.path)")
        let local = try await Self.get("/assets/debian/\(Self.path)", vboot)
        #expect(local.text == "local")
        #expect(mirror.server.counters[.httpFilesServed] == 0)
        await vboot.stop()
        await mirror.stop()
    }
}
