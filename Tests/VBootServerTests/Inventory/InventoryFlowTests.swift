import BootPolicy
import DHCPv4
import Foundation
import NIOCore
import Testing
import VBootServer

/// Machines in the inventory, end to end over real sockets: the API changes them, `/boot.ipxe`
/// follows their next-boot state, the installer callback ends a one-shot install.
@Suite("Inventory flow", .serialized)
struct InventoryFlowTests {
    static let token = "test-token-123"
    static let installProfile = """
        #!ipxe
        #: title Test installer
        #: var suite = bookworm -- release
        echo install {{mac}} {{suite}} {{hostname}}
        {{#done_url}}echo callback {{done_url}}{{/done_url}}
        """

    static func server(
        unknown: UnknownMachinePolicy = .script, dhcp: ServerConfiguration.DHCPMode = .off,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws -> TestServer {
        let server = try TestServer(dhcp: dhcp) { configuration, _ in
            configuration.apiAccess = APIAccess(token: token)
            configuration.unknownMachines = unknown
            configure(&configuration)
        }
        try server.write(Array(installProfile.utf8), to: "scripts/profiles/inst.ipxe")
        return server
    }

    static func add(_ json: String, port: Int) async throws {
        let added = try await HTTPCall.run("POST", "/api/v1/machines", port: port, token: token, body: json)
        try #require(added.status == 201, "\(added.text)")
    }

    @Test func onceHandsOutOneInstallThenTheCallbackMakesItLocal() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(
            #"{"mac": "52:54:00:aa:00:01", "hostname": "node1", "profile": "inst", "next_boot": "once", "variables": {"suite": "trixie"}}"#,
            port: api)

        let install = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-01", port: port)
        #expect(install.status == 200)
        #expect(install.text.contains("echo install 52-54-00-aa-00-01 trixie node1"))
        let callbackLine = try #require(install.text.split(separator: "\n").first { $0.hasPrefix("echo callback ") })
        let callback = try #require(URL(string: String(callbackLine.dropFirst("echo callback ".count))))
        #expect(callback.path == "/api/v1/machines/52-54-00-aa-00-01/done")
        #expect(callback.query?.hasPrefix("token=") == true && callback.query!.count == 6 + 32)

        // The installer reboots before calling back: local disk, never a second install.
        let again = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-01", port: port)
        #expect(again.text.contains("from its local disk") && !again.text.contains("echo install"))

        let shown = try await HTTPCall.run("GET", "/api/v1/machines/52:54:00:aa:00:01", port: api, token: Self.token)
        #expect(shown.json["next_boot"] as? String == "once" && shown.json["install_handed_out"] as? Bool == true)

        let wrong = try await HTTPCall.run(
            "GET", "/api/v1/machines/52-54-00-aa-00-01/done?token=0000", port: port)
        #expect(wrong.status == 403)
        let done = try await HTTPCall.run("GET", callback.path + "?" + callback.query!, port: port)
        #expect(done.status == 200 && done.json["changed"] as? Bool == true)
        let repeated = try await HTTPCall.run("POST", callback.path + "?" + callback.query!, port: port)
        #expect(repeated.status == 200 && repeated.json["changed"] as? Bool == false)

        let after = try await HTTPCall.run("GET", "/api/v1/machines/52:54:00:aa:00:01", port: api, token: Self.token)
        #expect(after.json["next_boot"] as? String == "local")

        let timeline = try await HTTPCall.run(
            "GET", "/api/v1/machines/hostname:node1/timeline", port: api, token: Self.token)
        let events = try #require(timeline.json["events"] as? [[String: Any]])
        let kinds = events.map { "\($0["kind"]!)/\($0["outcome"]!)" }
        #expect(kinds == ["callback/ok", "callback/ok", "callback/refused", "script/ok", "script/ok", "change/ok"])
        #expect((events[4]["summary"] as? String)?.contains("install handed out") == true)
        await server.stop()
    }

    /// `vboot trace` sends an admin to `vboot machines timeline MAC` for any client, known or not.
    @Test func aMACOutsideTheInventoryHasATimelineToo() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let script = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-77-00-01", port: server.port("http"))
        #expect(script.status == 200)
        let timeline = try await HTTPCall.run(
            "GET", "/api/v1/machines/52:54:00:77:00:01/timeline", port: server.port("api"), token: Self.token)
        #expect(timeline.status == 200)
        let events = try #require(timeline.json["events"] as? [[String: Any]])
        #expect(events.map { "\($0["kind"]!)" } == ["script"])
        let unknownName = try await HTTPCall.run(
            "GET", "/api/v1/machines/hostname:nobody/timeline", port: server.port("api"), token: Self.token)
        #expect(unknownName.status == 404)
        await server.stop()
    }

    @Test func fetchLimitedInstallEndsByItself() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(
            #"{"mac": "52:54:00:aa:00:02", "profile": "inst", "next_boot": "once", "once_completion": "fetches:2"}"#,
            port: api)
        var texts: [String] = []
        for _ in 0..<3 {
            texts.append(try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:02", port: port).text)
        }
        #expect(texts[0].contains("echo install") && texts[1].contains("echo install"))
        #expect(texts[2].contains("local disk"))
        await server.stop()
    }

    /// Many script requests at the same moment for one `once` machine: exactly one install.
    @Test func concurrentScriptRequestsGetOneInstall() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(#"{"mac": "52:54:00:aa:00:03", "profile": "inst", "next_boot": "once"}"#, port: api)
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<30 {
                group.addTask { try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:03", port: port).text }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(texts.filter { $0.contains("echo install") }.count == 1)
        #expect(texts.filter { $0.contains("local disk") }.count == 29)
        await server.stop()
    }

    @Test func holdAndUnknownMachinesUnderIgnoreGetNoScript() async throws {
        let server = try Self.server(unknown: .ignore)
        try server.write(Array("#!ipxe\necho own file\n".utf8), to: "scripts/machines/52-54-00-aa-00-09.ipxe")
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(#"{"mac": "52:54:00:aa:00:04", "next_boot": "hold"}"#, port: api)
        let held = try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:04", port: port)
        #expect(held.status == 403 && held.text.contains("on hold"))
        let stranger = try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:05", port: port)
        #expect(stranger.status == 403 && stranger.text.contains("not in the inventory"))
        // A per-MAC script file still counts as knowing the machine.
        let ownFile = try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:09", port: port)
        #expect(ownFile.status == 200 && ownFile.text.contains("own file"))
        await server.stop()
    }

    @Test func registrationAddsUnknownMachinesWithTheirUUID() async throws {
        let server = try Self.server(unknown: .register)
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        let first = try await HTTPCall.run(
            "GET", "/boot.ipxe?mac=52:54:00:aa:00:06&uuid=4C4C4544-0000-1000-8000-00000000AA06&serial=Default%20string",
            port: port)
        #expect(first.status == 200 && first.text.contains("default for 52-54-00-aa-00-06"))
        let machine = try await HTTPCall.run(
            "GET", "/api/v1/machines/uuid:4c4c4544-0000-1000-8000-00000000aa06", port: api, token: Self.token)
        #expect(machine.status == 200)
        #expect(machine.json["mac"] as? String == "52:54:00:aa:00:06")
        #expect(machine.json["serial"] is NSNull)
        // Booting again does not register twice or fail.
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52:54:00:aa:00:06", port: port).status == 200)
        let all = try await HTTPCall.run("GET", "/api/v1/machines", port: api, token: Self.token)
        #expect((all.json["machines"] as? [Any])?.count == 1)
        await server.stop()
    }

    /// An attacker registering from one host: random MACs, a 3,000-character UUID, an escape
    /// sequence in the serial. The inventory grows only to the per-source budget and stores no
    /// raw client string.
    @Test func registrationFloodIsBoundedAndStoresNoRawStrings() async throws {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token)
            configuration.unknownMachines = .register
            configuration.unauthenticatedLimits.registrationsPerMinutePerSource = 5
        }
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        let longUUID = String(repeating: "A", count: 3000)
        let started = ContinuousClock.now
        let first = try await HTTPCall.run(
            "GET", "/boot.ipxe?mac=02:66:00:00:00:00&uuid=\(longUUID)&serial=SN%1B%5B31mRED%07", port: port)
        #expect(first.status == 200)
        for n in 1..<40 {
            let mac = String(format: "02:66:00:00:00:%02x", n)
            _ = try await HTTPCall.run("GET", "/boot.ipxe?mac=\(mac)", port: port)
        }
        // The bucket refills one registration every 12 s: a slow run (ThreadSanitizer) may
        // earn one or two more, never the 40 it asked for.
        let refilled = Int((ContinuousClock.now - started) / .seconds(12))
        let all = try await HTTPCall.run("GET", "/api/v1/machines?limit=1000", port: api, token: Self.token)
        let registered = (all.json["machines"] as? [Any])?.count ?? 0
        #expect((5...5 + refilled).contains(registered), "registered \(registered) in \(refilled) refills")
        #expect(server.server.counters[.registrationsLimited] == 40 - registered)
        let stored = try await HTTPCall.run("GET", "/api/v1/machines/02:66:00:00:00:00", port: api, token: Self.token)
        #expect(stored.json["uuid"] is NSNull)
        #expect(stored.json["serial"] as? String == "SN31mRED")
        await server.stop()
    }

    /// The machine's proxy answers follow its state: hold is silent, a per-machine strategy wins.
    @Test func proxyFollowsTheInventory() async throws {
        let server = try Self.server(dhcp: .proxy)
        try server.write([0x4D, 0x5A], to: "ipxe/ipxe.efi")
        try await server.start(expecting: ["pxe", "dhcp", "tftp", "http", "api"])
        let api = server.port("api")
        let client = try UDPClient()
        var request = DHCPServiceTests.request()
        request.chaddr = HardwareAddress("52:54:00:aa:00:07")!.bytes + Array(repeating: 0, count: 10)
        client.send(request.encoded().bytes, to: UInt16(server.port("pxe")))
        #expect(client.receive() != nil)

        try await Self.add(#"{"mac": "52:54:00:aa:00:07", "next_boot": "hold"}"#, port: api)
        client.send(request.encoded().bytes, to: UInt16(server.port("pxe")))
        #expect(client.receive(timeout: .milliseconds(500)) == nil)

        let changed = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/52:54:00:aa:00:07", port: api, token: Self.token,
            body: #"{"next_boot": "profile"}"#)
        #expect(changed.status == 200)
        client.send(request.encoded().bytes, to: UInt16(server.port("pxe")))
        #expect(client.receive() != nil)
        await server.stop()
    }
}
