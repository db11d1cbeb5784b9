import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import VBootServer

/// Issue 11: every LAN host is untrusted and a PXE client has no credentials. Each test is the
/// attack; it failed before the fix it covers.
@Suite struct LANAttackTests {
    /// Secrets at rest: someone with a shell on the server (another user, a backup job) reads
    /// the token from the log or the inventory from a world-readable file.
    @Test func secretsAreOwnerOnlyAndTheTokenStaysOutOfTheLog() async throws {
        let log = CapturedLog()
        let server = try TestServer(logger: log.logger) { configuration, root in
            configuration.dataDirectory = root.appendingPathComponent("data").path
        }
        defer { Task { await server.stop() } }
        let data = server.root.appendingPathComponent("data").path
        // An existing directory from an older vboot (created 0755).
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        chmod(data, 0o755)
        _ = try server.server.validate()
        let tokenPath = data + "/api-token"
        let token = try APITokenFile.loadOrCreate(path: tokenPath, logger: log.logger)
        try await server.start(expecting: ["http"])
        // A write goes through the WAL, so -wal and -shm exist now.
        _ = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-00-00-11", port: server.port("http"))

        #expect(mode(data) == 0o700)
        for file in ["api-token", "vboot.sqlite", "vboot.sqlite-wal", "vboot.sqlite-shm"] {
            #expect(mode(data + "/" + file) == 0o600, "\(file)")
        }
        let text = log.text
        #expect(!text.contains(token))
        #expect(text.contains(tokenPath))
        #expect(text.contains("data directory \(data) was mode 0755"))
    }

    /// Log injection: a TFTP file name or a query value with a newline forges a log line; ESC
    /// sequences drive the terminal of the admin who tails the log.
    @Test func clientStringsCannotForgeLogLinesOrTimelineText() async throws {
        let log = CapturedLog()
        let server = try TestServer(logger: log.logger)
        defer { Task { await server.stop() } }
        try await server.start(expecting: ["http", "tftp"])
        let forged = "x\n2026-01-01T00:00:00+0000 notice vboot: fake line\u{1b}[2J\u{9b}31m\r\u{2028}"
        _ = try TFTPServiceTests.download(forged, port: server.port("tftp"))
        let query = "mac=52-54-00-00-00-12&uuid=" + forged.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        _ = try await HTTPCall.run("GET", "/boot.ipxe?" + query, port: server.port("http"))
        let inventory = try #require(server.server.inventory)
        await inventory.recorder.flush()
        let events = try await inventory.store.timeline(mac: nil, limit: 100, before: nil)

        let text = log.text
        #expect(text.contains("fake line"), "the requests were logged")
        let timeline = events.map { ([$0.summary] + $0.details.values).joined(separator: " ") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) + timeline.map({ Substring($0) }) {
            #expect(!line.unicodeScalars.contains { Self.isControl($0) }, "\(line.debugDescription)")
        }
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("2026-") })
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    private func mode(_ path: String) -> mode_t? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return status.st_mode & 0o777
    }
}

/// Every log line, as a string, for tests that check what the log says (and does not).
final class CapturedLog: Sendable {
    let lines = NIOLockedValueBox<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "vboot-test") { _ in Handler(log: self) }
        logger.logLevel = .debug
        return logger
    }

    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.lines.withLockedValue { $0.append("\(event.level) \(event.message)") }
        }
    }
}

/// `{{server}}` comes from the request's `Host`: a client must not splice commands into the
/// URL rendered into its script (`Host: x;shell`, `Host: a b`, `$(...)`).
@Suite struct HostHeaderTests {
    static let fallback = "10.0.0.2:8080"

    @Test(arguments: [
        "vboot.lab:8080", "vboot.lab", "10.0.0.2:8080", "[fd00::2]:8080", "[fd00::2]", "boot-1.example.org:80",
    ])
    func plainHostsAreKept(host: String) {
        #expect(ScriptRoute.serverURL(host: host, fallback: Self.fallback) == "http://" + host)
    }

    @Test(arguments: [
        "x;shell", "a b", "x$(id)", "x&&shell", "vboot.lab:80 initrd=evil", "vboot.lab:8o", "vboot.lab:",
        "[fd00::2", "[zz]:80", "evil.example/path", "", "vboot.lab:123456", "${net0/ip}",
    ])
    func anythingElseFallsBack(host: String) {
        #expect(ScriptRoute.serverURL(host: host, fallback: Self.fallback) == "http://10.0.0.2:8080")
    }

    @Test func noHostFallsBack() {
        #expect(ScriptRoute.serverURL(host: nil, fallback: Self.fallback) == "http://10.0.0.2:8080")
    }
}
