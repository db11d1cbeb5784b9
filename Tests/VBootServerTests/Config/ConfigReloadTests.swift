import Foundation
import Testing
import VBootServer

/// `--config` at start and on change: declared machines reach the store, a reload follows the
/// file without restarting an install, a broken file is read and refused (counted on /metrics)
/// and the old settings stay.
@Suite("Config reload", .serialized)
struct ConfigReloadTests {
    static let first = """
        unknown_machines: script
        api: {read_networks: [127.0.0.0/8]}
        variables: {greeting: hello}
        machines:
          - {mac: "52:54:00:aa:00:01", hostname: node1, profile: inst, next_boot: once}
        """

    static let second = """
        unknown_machines: script
        api: {read_networks: [127.0.0.0/8]}
        variables: {greeting: bonjour}
        machines:
          - {mac: "52:54:00:aa:00:01", hostname: renamed, profile: inst, next_boot: once}
          - {mac: "52:54:00:aa:00:02", next_boot: hold}
        """

    static func machine(_ id: String, port: Int) async throws -> [String: Any] {
        try await HTTPCall.run("GET", "/api/v1/machines/\(id)", port: port).json
    }

    /// `vboot_NAME_total` from /metrics (0 until the counter first moves).
    static func counter(_ name: String, port: Int) async throws -> Int {
        let text = try await HTTPCall.run("GET", "/metrics", port: port).text
        let line = text.split(separator: "\n").first { $0.hasPrefix("vboot_\(name)_total ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// Polls until `condition` holds (the reloader checks the file every 2 s); bounded at 10 s.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func reloadFollowsTheFileButNeverRestartsAnInstall() async throws {
        let server = try TestServer(configFile: Self.first)
        try server.write(
            Array("#!ipxe\n#: title t\necho install {{hostname}} {{greeting}}\n".utf8), to: "scripts/profiles/inst.ipxe"
        )
        try server.write(Array("#!ipxe\necho default {{greeting}}\n".utf8), to: "scripts/default.ipxe")
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        #expect(try await Self.machine("node1", port: api)["next_boot"] as? String == "once")
        let install = try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:01", port: port)
        #expect(install.text.contains("echo install node1 hello"))

        #expect(try await Self.counter("config_reloads", port: api) == 0)
        #expect(try await Self.counter("config_reloads_refused", port: api) == 0)

        // A broken file is read and refused (the refused-reload counter moves, nothing else
        // does); everything stays as it was.
        let path = server.root.appendingPathComponent("vboot.yaml").path
        try "machines:\n  - {mac: 52:54:00:aa:00:03, next_boot: never}\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(try await Self.eventually { try await Self.counter("config_reloads_refused", port: api) == 1 })
        #expect(try await Self.counter("config_reloads", port: api) == 0)
        #expect(try await Self.machine("52:54:00:aa:00:03", port: api)["error"] != nil)
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:09", port: port).text.contains("hello"))

        try Self.second.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(
            try await Self.eventually {
                try await Self.machine("52:54:00:aa:00:02", port: api)["next_boot"] as? String == "hold"
            })
        #expect(try await Self.counter("config_reloads", port: api) == 1)
        #expect(try await Self.counter("config_reloads_refused", port: api) == 1)
        let renamed = try await Self.machine("52:54:00:aa:00:01", port: api)
        #expect(renamed["hostname"] as? String == "renamed")
        // Still the same install, handed out before the reload: no second install.
        #expect(renamed["next_boot"] as? String == "once" && renamed["install_handed_out"] as? Bool == true)
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:01", port: port).text.contains("local"))
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:09", port: port).text.contains("bonjour"))
        await server.stop()
    }
}
