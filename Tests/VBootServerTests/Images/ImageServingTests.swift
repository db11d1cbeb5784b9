import Foundation
import Logging
import TFTP
import Testing

@testable import VBootServer

/// Diskless images over real sockets: a file the manifest names is served only while it is the
/// file the manifest describes (size, then SHA-256, once per version of the file).
@Suite("Diskless images: served only as their manifest says", .serialized)
struct ImageServingTests {
    static let squashfs = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    static let kernel = Array("kernel".utf8)
    static let directory = "assets/images/lab"

    static func manifest(_ files: [(String, [UInt8])]) -> ImageManifest {
        ImageManifest(
            suite: "bookworm", architecture: "amd64", mirror: "http://deb.debian.org/debian",
            sourceDateEpoch: 1_764_892_800, kernel: "6.1.0-50-amd64", include: [], hooks: [],
            packages: [.init(name: "live-boot", version: "1:20230131+deb12u1")],
            files: files.map { .init(name: $0.0, size: $0.1.count, sha256: CacheHash.hex($0.1)) },
            builtBy: "vboot test")
    }

    static func server() async throws -> TestServer {
        let server = try TestServer()
        try server.write(squashfs, to: "\(directory)/filesystem.squashfs", settled: true)
        try server.write(kernel, to: "\(directory)/vmlinuz", settled: true)
        try server.write(Array("a site's own file".utf8), to: "\(directory)/notes.txt", settled: true)
        let manifest = manifest([("filesystem.squashfs", squashfs), ("vmlinuz", kernel)])
        try server.write(Array(try manifest.encoded()), to: "\(directory)/\(ImageManifest.fileName)", settled: true)
        try await server.start(expecting: ["http"])
        return server
    }

    static func get(_ name: String, _ server: TestServer, headers: [String: String] = [:]) async throws -> HTTPCall {
        try await HTTPCall.run("GET", "/assets/images/lab/\(name)", port: server.port("http"), headers: headers)
    }

    @Test func anImageFileIsServedWhileItMatchesItsManifest() async throws {
        let server = try await Self.server()
        let whole = try await Self.get("filesystem.squashfs", server)
        let same = Array(whole.body) == Self.squashfs
        #expect(whole.status == 200 && same)
        let part = try await Self.get("filesystem.squashfs", server, headers: ["Range": "bytes=100-199"])
        let partSame = Array(part.body) == Array(Self.squashfs[100...199])
        #expect(part.status == 206 && partSame)
        #expect(try await Self.get("vmlinuz", server).status == 200)
        // Files the manifest does not name, and the manifest itself, are plain assets.
        #expect(try await Self.get("notes.txt", server).status == 200)
        #expect(try await Self.get(ImageManifest.fileName, server).status == 200)
        // Hashed once, however many times asked.
        #expect(server.server.counters[.imageFilesVerified] == 2)
        #expect(server.server.counters[.imageVerificationFailures] == 0)
        await server.stop()
    }

    @Test func aTruncatedOrCorruptedFileIsRefusedNotServed() async throws {
        let server = try await Self.server()
        let path = "\(Self.directory)/filesystem.squashfs"
        try server.write(Array(Self.squashfs.prefix(200_000)), to: path)
        let cut = try await Self.get("filesystem.squashfs", server)
        #expect(cut.status == 503)
        #expect(cut.text.contains("200000 bytes, not the 300000 its manifest names"), "\(cut.text)")
        // Same size, one byte changed.
        var corrupted = Self.squashfs
        corrupted[150_000] ^= 0xFF
        try server.write(corrupted, to: path)
        let bad = try await Self.get("filesystem.squashfs", server)
        #expect(bad.status == 503)
        #expect(bad.text.contains("its manifest names (corrupted or replaced); not served"), "\(bad.text)")
        #expect(server.server.counters[.imageVerificationFailures] == 2)
        // Asked again: the refusal is remembered for that version of the file, not hashed again.
        #expect(try await Self.get("filesystem.squashfs", server).status == 503)
        #expect(server.server.counters[.imageVerificationFailures] == 2)
        // Put right: served again.
        try server.write(Self.squashfs, to: path)
        #expect(try await Self.get("filesystem.squashfs", server).status == 200)
        await server.stop()
    }

    @Test func aManifestThatCannotBeReadRefusesTheImage() async throws {
        let server = try await Self.server()
        try server.write(Array("{ not json".utf8), to: "\(Self.directory)/\(ImageManifest.fileName)")
        // Which files it named is unknown: every file beside it is refused, none served unchecked.
        for name in ["filesystem.squashfs", "vmlinuz", "notes.txt"] {
            let answer = try await Self.get(name, server)
            #expect(answer.status == 503, "\(name)")
            #expect(answer.text.contains("cannot be read"), "\(name): \(answer.text)")
        }
        await server.stop()
    }

    /// A TFTP client cannot wait: while the hash runs its read request gets no answer (an error
    /// would end GRUB's boot), and the retransmission gets the file.
    @Test func tftpGetsNoAnswerWhileTheFileIsCheckedThenTheFile() async throws {
        let server = try TestServer()
        try server.write(Array("x".utf8), to: "assets/placeholder")
        try await server.start(expecting: ["tftp"])
        // Published after the start: nothing has hashed it yet.
        try server.write(Self.squashfs, to: "\(Self.directory)/filesystem.squashfs", settled: true)
        let manifest = Self.manifest([("filesystem.squashfs", Self.squashfs)])
        try server.write(
            Array(try manifest.encoded()), to: "\(Self.directory)/\(ImageManifest.fileName)", settled: true)
        let client = try UDPClient()
        let request = TFTPPacket.readRequest(TFTPRequest(filename: "images/lab/filesystem.squashfs", options: []))
        client.send(request.encoded().bytes, to: UInt16(server.port("tftp")))
        let answer = client.receive(timeout: .milliseconds(500))
        #expect(answer == nil, "answered while the file was being checked: \(answer?.bytes.prefix(4) ?? [])")
        let download = try TFTPServiceTests.download("images/lab/filesystem.squashfs", port: server.port("tftp"))
        let same = download.bytes == Self.squashfs
        #expect(download.error == nil && same)
        #expect(server.server.counters[.imageFilesVerified] == 1)
        await server.stop()
    }

    @Test func whatARequestGetsIsDecidedFromTheManifestAsRead() {
        let manifest = Self.manifest([("filesystem.squashfs", Self.squashfs)])
        let path = "/a/vboot-image.json"
        func decide(_ name: String, _ size: Int, _ read: ImageVerifier.ManifestRead) -> ImageVerifier.Decision {
            ImageVerifier.decide(name: name, size: size, manifest: read, manifestPath: path)
        }
        #expect(decide("filesystem.squashfs", 300_000, .absent) == .plainAsset)
        #expect(decide("notes.txt", 5, .read(manifest)) == .plainAsset)
        #expect(decide("filesystem.squashfs", 300_000, .read(manifest)) == .hash(manifest.files[0]))
        #expect(
            decide("filesystem.squashfs", 299_999, .read(manifest))
                == .refuse("299999 bytes, not the 300000 its manifest names (cut short or replaced)"))
        // A manifest there but unreadable (its mode, an I/O error) refuses every file beside it.
        #expect(
            decide("notes.txt", 5, .unreadable("/a/vboot-image.json cannot be read"))
                == .refuse("its manifest /a/vboot-image.json cannot be read (/a/vboot-image.json cannot be read)"))
    }

    /// A manifest names files beside it, nothing else: `../../etc/shadow` is not hashed or vouched for.
    @Test func aManifestNamingAnythingButAFileBesideItIsRefused() throws {
        for name in ["../../etc/shadow", "sub/file", "..", ".", "", ImageManifest.fileName] {
            var manifest = Self.manifest([("vmlinuz", Self.kernel)])
            manifest.files[0].name = name
            #expect(throws: ImageManifest.ManifestError.self, "\(name)") {
                try ImageManifest.decode(try manifest.encoded())
            }
        }
    }

    /// TFTP cannot wait for a hash: no answer while one runs, then given the file.
    @Test func tftpIsGivenCheckedFilesOnly() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-images-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/images/lab"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(Self.squashfs).write(to: URL(fileURLWithPath: directory + "/filesystem.squashfs"))
        try Data(Self.kernel).write(to: URL(fileURLWithPath: directory + "/vmlinuz"))
        let manifest = Self.manifest([("filesystem.squashfs", Self.squashfs), ("vmlinuz", Array("other".utf8))])
        try manifest.encoded().write(to: URL(fileURLWithPath: directory + "/" + ImageManifest.fileName))
        let counters = ServerCounters()
        let images = ImageVerifier(counters: counters, logger: Logger(label: "test"))
        var store = BootFileStore(ipxeDirectories: [], assetsRoot: root)
        store.images = images
        guard case .failure(.checking(let file)) = store.resolveTFTP("/images/lab/filesystem.squashfs") else {
            Issue.record("an unchecked image file went to TFTP")
            return
        }
        #expect(await images.wait(for: file.path) == .intact)
        #expect(try store.resolveTFTP("/images/lab/filesystem.squashfs").get().size == Self.squashfs.count)
        // The kernel is not the manifest's: refused, with the reason.
        _ = store.resolveTFTP("/images/lab/vmlinuz")
        let kernel = try #require(BootFileStore.realPath(directory + "/vmlinuz"))
        guard case .refused(let why)? = await images.wait(for: kernel) else {
            Issue.record("a kernel of the wrong size was not refused")
            return
        }
        #expect(why.contains("6 bytes, not the 5"))
        guard case .failure(.unverified) = store.resolveTFTP("/images/lab/vmlinuz") else {
            Issue.record("a refused kernel went to TFTP")
            return
        }
    }
}
