import Foundation
import Testing
import VBootServer
import VBootStore

/// Issue 11, every LAN host is untrusted: a request that names a machine by its SMBIOS UUID or
/// serial (printed on a label, guessable on VMs) but not by its MAC gets nothing of that machine:
/// not its install, not its variables, not its callback token. Run against both store paths:
/// SQLite (the in-memory directory answers) and PostgreSQL (`isShared`: the store answers).
@Suite("Script requests by UUID or serial only", .serialized)
struct ScriptSelectorAttackTests {
    enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
        case sqlite, postgres

        var description: String { rawValue }

        static let postgresURL = ProcessInfo.processInfo.environment["VBOOT_TEST_POSTGRES"]
        static var available: [Backend] { postgresURL == nil ? [.sqlite] : allCases }

        /// PostgreSQL: a schema of its own per server, as the store suite does.
        func configure(_ configuration: inout ServerConfiguration) throws {
            guard self == .postgres, let base = Self.postgresURL else { return }
            let tag = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            configuration.database = .postgres(
                try PostgresURL(base + (base.contains("?") ? "&" : "?") + "schema=t_\(tag)"))
        }
    }

    static let token = "test-token-123"
    static let profile = """
        #!ipxe
        #: title Test installer
        echo install {{mac}} password {{root_password}}
        {{#done_url}}echo callback {{done_url}}{{/done_url}}
        """
    static let victim = "52:54:00:aa:00:11"
    static let uuid = "4c4c4544-0000-1000-8000-0000000000aa"

    static func server(_ backend: Backend) throws -> TestServer {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: token)
            try backend.configure(&configuration)
        }
        try server.write(Array(profile.utf8), to: "scripts/profiles/inst.ipxe")
        return server
    }

    static func add(_ json: String, port: Int) async throws {
        let added = try await HTTPCall.run("POST", "/api/v1/machines", port: port, token: token, body: json)
        try #require(added.status == 201, "\(added.text)")
    }

    /// What a request that is not the machine must get: a script that explains, and nothing else.
    static func expectNothingOfTheMachine(
        _ reply: HTTPCall, asked: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == 200, sourceLocation: sourceLocation)
        #expect(reply.text.hasPrefix("#!ipxe\n"), sourceLocation: sourceLocation)
        #expect(!reply.text.contains("hunter2"), "the machine's variables leaked", sourceLocation: sourceLocation)
        #expect(!reply.text.contains("token="), "the install's callback token leaked", sourceLocation: sourceLocation)
        #expect(!reply.text.contains("echo install"), "the install was handed out", sourceLocation: sourceLocation)
        #expect(!reply.text.contains("52-54-00-aa-00-11"), "the machine's MAC leaked", sourceLocation: sourceLocation)
        #expect(reply.text.contains("another MAC address"), "\(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.text.contains(asked), "\(reply.text)", sourceLocation: sourceLocation)
    }

    @Test(arguments: Backend.available)
    func onceInstallGoesOnlyToTheMachinesOwnMAC(_ backend: Backend) async throws {
        let server = try Self.server(backend)
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(
            #"{"mac": "\#(Self.victim)", "uuid": "\#(Self.uuid)", "serial": "SN-VICTIM", "hostname": "victim", "profile": "inst", "next_boot": "once", "variables": {"root_password": "hunter2"}}"#,
            port: api)

        // The attack: any LAN host (or an <img> in a browser) names the victim by serial or UUID.
        let bySerial = try await HTTPCall.run("GET", "/boot.ipxe?serial=SN-VICTIM", port: port)
        Self.expectNothingOfTheMachine(bySerial, asked: "no MAC")
        let byUUID = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-bb-00-01&uuid=\(Self.uuid)", port: port)
        Self.expectNothingOfTheMachine(byUUID, asked: "52-54-00-bb-00-01")

        // The one-shot state is untouched ...
        let shown = try await HTTPCall.run("GET", "/api/v1/machines/\(Self.victim)", port: api, token: Self.token)
        #expect(shown.json["next_boot"] as? String == "once")
        #expect(shown.json["install_handed_out"] as? Bool == false && shown.json["install_fetches"] as? Int == 0)

        // ... so the real machine still gets its install, with its token.
        let real = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-11&serial=SN-VICTIM", port: port)
        #expect(real.status == 200 && real.text.contains("echo install 52-54-00-aa-00-11 password hunter2"))
        #expect(real.text.contains("/api/v1/machines/52-54-00-aa-00-11/done?token="))

        // Both refusals are on the machine's timeline, saying who asked.
        let timeline = try await HTTPCall.run(
            "GET", "/api/v1/machines/hostname:victim/timeline", port: api, token: Self.token)
        let events = try #require(timeline.json["events"] as? [[String: Any]])
        #expect(
            events.map { "\($0["kind"]!)/\($0["outcome"]!)" } == [
                "script/ok", "script/refused", "script/refused", "change/ok",
            ])
        #expect((events[1]["summary"] as? String)?.contains("52:54:00:bb:00:01") == true, "\(events[1])")
        #expect((events[2]["summary"] as? String)?.contains("without a MAC") == true, "\(events[2])")
        #expect(server.server.counters[.httpScriptsRefused] == 2)
        await server.stop()
    }

    /// A machine not installing renders its variables too (they may hold secrets): the same
    /// refusal for another MAC, its profile for its own.
    @Test(arguments: Backend.available)
    func otherNextBootStatesGiveNothingToAnotherMAC(_ backend: Backend) async throws {
        let server = try Self.server(backend)
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(
            #"{"mac": "\#(Self.victim)", "uuid": "\#(Self.uuid)", "serial": "SN-VICTIM", "profile": "inst", "next_boot": "profile", "variables": {"root_password": "hunter2"}}"#,
            port: api)
        for state in ["profile", "local", "shell"] {
            let changed = try await HTTPCall.run(
                "PATCH", "/api/v1/machines/\(Self.victim)", port: api, token: Self.token,
                body: #"{"next_boot": "\#(state)"}"#)
            try #require(changed.status == 200)
            let byUUID = try await HTTPCall.run("GET", "/boot.ipxe?uuid=\(Self.uuid.uppercased())", port: port)
            Self.expectNothingOfTheMachine(byUUID, asked: "no MAC")
        }
        // Held: no answer, as for its own MAC, and the refusal does not name the machine's MAC.
        _ = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/\(Self.victim)", port: api, token: Self.token, body: #"{"next_boot": "hold"}"#)
        let held = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-bb-00-01&serial=SN-VICTIM", port: port)
        #expect(held.status == 403 && held.text.contains("on hold") && !held.text.contains("52:54:00:aa:00:11"))

        _ = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/\(Self.victim)", port: api, token: Self.token,
            body: #"{"next_boot": "profile"}"#)
        let own = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-11&uuid=\(Self.uuid)", port: port)
        #expect(own.status == 200 && own.text.contains("password hunter2"))
        await server.stop()
    }

    /// `unknown_machines: register` must not register a stranger under the victim's serial either.
    @Test func registrationDoesNotAdoptAnotherMachinesSerial() async throws {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token)
            configuration.unknownMachines = .register
        }
        try server.write(Array(Self.profile.utf8), to: "scripts/profiles/inst.ipxe")
        try await server.start(expecting: ["http", "api"])
        let port = server.port("http")
        let api = server.port("api")
        try await Self.add(
            #"{"mac": "\#(Self.victim)", "serial": "SN-VICTIM", "profile": "inst", "next_boot": "once", "variables": {"root_password": "hunter2"}}"#,
            port: api)
        let stranger = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-bb-00-02&serial=SN-VICTIM", port: port)
        Self.expectNothingOfTheMachine(stranger, asked: "52-54-00-bb-00-02")
        let all = try await HTTPCall.run("GET", "/api/v1/machines", port: api, token: Self.token)
        #expect((all.json["machines"] as? [Any])?.count == 1)
        await server.stop()
    }
}
