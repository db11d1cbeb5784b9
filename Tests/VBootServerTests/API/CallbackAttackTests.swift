import Foundation
import Testing
import VBootServer

/// The installer callback is on the boot listener, open to the LAN: without the API token it
/// must not tell which machines exist or which are installing, and the real installer's retried
/// callback must still succeed.
@Suite("Callback attacks", .serialized)
struct CallbackAttackTests {
    static let token = InventoryFlowTests.token

    static func randomHex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }

    static func randomMAC() -> String {
        "52-54-00-" + (0..<3).map { _ in randomHex(2) }.joined(separator: "-")
    }

    @Test func anUnauthenticatedCallerCannotTellWhichMachinesExist() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let boot = server.port("http")
        let api = server.port("api")
        // Installing (handed out), installing (not yet fetched), installed, steady profile.
        for (mac, state) in [
            ("52:54:00:cc:00:01", "once"), ("52:54:00:cc:00:02", "once"),
            ("52:54:00:cc:00:03", "local"), ("52:54:00:cc:00:04", "profile"),
        ] {
            try await InventoryFlowTests.add(
                #"{"mac": "\#(mac)", "hostname": "n\#(mac.suffix(1))", "profile": "inst", "next_boot": "\#(state)"}"#,
                port: api)
        }
        let install = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-cc-00-01", port: boot)
        #expect(install.text.contains("/done?token="))

        var probes: [String] = (0..<6).map { _ in Self.randomMAC() }
        probes += [
            "52-54-00-cc-00-01", "52:54:00:cc:00:02", "52-54-00-cc-00-03", "52-54-00-cc-00-04", "hostname:n1", "n3",
        ]
        var answers: Set<String> = []
        for id in probes {
            for (method, query) in [("GET", "?token=\(Self.randomHex(32))"), ("POST", ""), ("GET", "?token=")] {
                let reply = try await HTTPCall.run(method, "/api/v1/machines/\(id)/done\(query)", port: boot)
                let length = reply.headers["Content-Length"] as? String ?? "?"
                answers.insert("\(reply.status) \(length) \(reply.text)")
            }
        }
        #expect(answers.count == 1, "\(answers.sorted().joined(separator: "\n"))")
        #expect(answers.first?.hasPrefix("403 ") == true)
        // Nothing changed, and each refusal was counted.
        let shown = try await HTTPCall.run("GET", "/api/v1/machines/52:54:00:cc:00:01", port: api, token: Self.token)
        #expect(shown.json["next_boot"] as? String == "once")
        let metrics = try await HTTPCall.run("GET", "/metrics", port: api).text
        #expect(metrics.contains("vboot_api_callbacks_refused_total \(probes.count * 3)\n"))
        // With the API token an admin still gets the precise answer.
        let admin = try await HTTPCall.run(
            "GET", "/api/v1/machines/\(Self.randomMAC())/done", port: api, token: Self.token)
        #expect(admin.status == 404)
        await server.stop()
    }

    @Test func theInstallersRetriedCallbackSucceedsAgainUntilTheNextInstall() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let boot = server.port("http")
        let api = server.port("api")
        try await InventoryFlowTests.add(
            #"{"mac": "52:54:00:cc:00:11", "profile": "inst", "next_boot": "once"}"#, port: api)
        let install = try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-cc-00-11", port: boot)
        let line = try #require(install.text.split(separator: "\n").first { $0.hasPrefix("echo callback ") })
        let callback = try #require(URLComponents(string: String(line.dropFirst("echo callback ".count))))
        let path = callback.path + "?" + (callback.query ?? "")
        let first = try await HTTPCall.run("POST", path, port: boot)
        #expect(first.status == 200 && first.json["changed"] as? Bool == true)
        for method in ["POST", "GET", "POST"] {
            let retry = try await HTTPCall.run(method, path, port: boot)
            #expect(retry.status == 200 && retry.json["changed"] as? Bool == false, "\(retry.text)")
        }
        // A new install forgets the spent token: the old installer's callback no longer counts.
        let reset = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/52:54:00:cc:00:11", port: api, token: Self.token,
            body: #"{"next_boot": "once"}"#)
        #expect(reset.status == 200)
        let stale = try await HTTPCall.run("POST", path, port: boot)
        #expect(stale.status == 403 && stale.error == "no install in flight matches this machine and token")
        let shown = try await HTTPCall.run("GET", "/api/v1/machines/52:54:00:cc:00:11", port: api, token: Self.token)
        #expect(shown.json["next_boot"] as? String == "once")
        await server.stop()
    }
}
