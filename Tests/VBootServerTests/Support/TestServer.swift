import Foundation
import Logging
import NIOConcurrencyHelpers
import VBootServer

/// A real vboot on loopback with free ports, for one test.
final class TestServer: Sendable {
    let root: URL
    let ports: NIOLockedValueBox<[String: Int]> = NIOLockedValueBox([:])
    let server: VBootServer
    private let task: NIOLockedValueBox<Task<Void, any Error>?> = NIOLockedValueBox(nil)
    /// Set when `server.run` has returned or thrown.
    private let ended = NIOLockedValueBox(false)

    /// `configFile`: YAML written to `vboot.yaml` in the test root and loaded like `--config`.
    init(
        dhcp: ServerConfiguration.DHCPMode = .off, configFile: String? = nil, logger custom: Logger? = nil,
        configure: (inout ServerConfiguration, URL) throws -> Void = { _, _ in }
    ) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-test-\(UUID().uuidString)")
        for sub in ["scripts/machines", "ipxe", "assets"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try "#!ipxe\necho default for {{mac}}\n".write(
            to: root.appendingPathComponent("scripts/default.ipxe"), atomically: true, encoding: .utf8)
        var configuration = ServerConfiguration()
        configuration.listenAddress = .init(127, 0, 0, 1)
        configuration.dhcpMode = dhcp
        configuration.httpPort = 0
        configuration.tftpPort = 0
        configuration.dhcpPort = 0
        configuration.pxePort = 0
        configuration.apiListen = [APIListenAddress(host: "127.0.0.1", port: 0)]
        configuration.interface = "lo"
        configuration.bootScriptsDirectory = root.appendingPathComponent("scripts").path
        configuration.ipxeDirectories = [root.appendingPathComponent("ipxe").path]
        configuration.assetsDirectory = root.appendingPathComponent("assets").path
        try configure(&configuration, root)
        var logger = custom ?? Logger(label: "vboot-test")
        if custom == nil { logger.logLevel = .warning }
        var reload: ConfigReload?
        if let configFile {
            let path = root.appendingPathComponent("vboot.yaml").path
            try configFile.write(toFile: path, atomically: true, encoding: .utf8)
            let file = try ConfigFile.load(path: path)
            // The same merge as `vboot serve`, over this test's defaults instead of vboot's.
            let base = configuration
            configuration = try .merged(base: base, file: file)
            reload = ConfigReload(path: path, machines: file.machines) { reloaded in
                try .merged(base: base, file: reloaded)
            }
        }
        server = VBootServer(configuration: configuration, logger: logger, configReload: reload)
    }

    /// `settled`: dated back to a fixed day (the same for every file), so the hot-file caches take
    /// it (a file changed within the last second is always read from disk).
    func write(_ bytes: [UInt8], to relativePath: String, settled: Bool = false) throws {
        let url = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        if settled {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)], ofItemAtPath: url.path)
        }
    }

    /// Starts the services and waits until `expected` listeners report their ports.
    /// Bounded by time, not by polls: under ThreadSanitizer, with every suite starting servers at
    /// once, opening a PostgreSQL store took longer than the 5 s the old count of polls allowed,
    /// and once, with a release build beside it on 2 cores, longer than 60 s.
    func start(expecting expected: Set<String>) async throws {
        let run = Task { [self] in
            defer { ended.withLockedValue { $0 = true } }
            try await server.run { name, port in self.ports.withLockedValue { $0[name] = port } }
        }
        task.withLockedValue { $0 = run }
        let deadline = ContinuousClock.now + .seconds(150)
        while ContinuousClock.now < deadline, !ended.withLockedValue({ $0 }) {
            if self.ports.withLockedValue({ Set($0.keys) }).isSuperset(of: expected) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        if ended.withLockedValue({ $0 }) { try await run.value }  // its own error, if it failed
        throw TestServerError.didNotStart(listening: ports.withLockedValue { $0.keys.sorted() })
    }

    func port(_ name: String) -> Int { ports.withLockedValue { $0[name] ?? 0 } }

    func stop() async {
        let running = task.withLockedValue { $0 }
        running?.cancel()
        _ = await running?.result
        try? FileManager.default.removeItem(at: root)
    }

    /// Which listeners had reported when the time ran out (none: the inventory did not open).
    enum TestServerError: Error { case didNotStart(listening: [String]) }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}
