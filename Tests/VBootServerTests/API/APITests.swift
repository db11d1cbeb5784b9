import BootPolicy
import DHCPv4
import Foundation
import Glibc
import Testing
import VBootServer

/// The API's refusals: each says what is wrong, with the right status, and changes nothing.
@Suite("API", .serialized)
struct APITests {
    static let token = InventoryFlowTests.token

    @Test func badInputIsRefusedWithTheReason() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let cases: [(body: String, reason: String)] = [
            ("{\"mac\": ", "malformed JSON"),
            ("[1, 2]", "expected a JSON object"),
            ("null", "expected a JSON object"),
            ("", "body is empty"),
            (#"{"hostname": "x"}"#, "mac: required"),
            (#"{"mac": "52:54:00:zz:00:01"}"#, "is not a MAC address"),
            (#"{"mac": "52:54:00:aa:00:01", "hostnme": "x"}"#, "unknown field \"hostnme\""),
            (#"{"mac": "52:54:00:aa:00:01", "next_boot": "twice"}"#, "next_boot: expected one of"),
            (#"{"mac": "52:54:00:aa:00:01", "hostname": "-bad-"}"#, "hostname: \"-bad-\" is not valid"),
            (#"{"mac": "52:54:00:aa:00:01", "uuid": "1234"}"#, "uuid"),
            (#"{"mac": "52:54:00:aa:00:01", "variables": {"a": 1}}"#, "variables.a: expected a string"),
            (#"{"mac": "52:54:00:aa:00:01", "variables": {"a": "x\ny"}}"#, "no line breaks"),
            (#"{"mac": "52:54:00:aa:00:01", "profile": "nosuch"}"#, "no profile nosuch"),
            (#"{"mac": "52:54:00:aa:00:01", "once_completion": "fetches:0"}"#, "once_completion"),
            (#"{"mac": "52:54:00:aa:00:01", "proxy_strategy": "maybe"}"#, "proxy_strategy"),
            (
                #"{"mac": "52:54:00:aa:00:01", "loader": "shim"}"#,
                "loader: \"shim\" is not valid; expected null or one of ipxe, grub"
            ),
        ]
        for (body, reason) in cases {
            let reply = try await HTTPCall.run("POST", "/api/v1/machines", port: api, token: Self.token, body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.error.contains(reason), "\(body) → \(reply.error)")
        }
        let all = try await HTTPCall.run("GET", "/api/v1/machines", port: api, token: Self.token)
        #expect((all.json["machines"] as? [Any])?.isEmpty == true)
        await server.stop()
    }

    /// A machine's loader: set, shown, stored (it survives the store's round trip), cleared.
    /// A browser's `encodeURIComponent` writes a MAC's colons as `%3A`: the same machine.
    @Test func aPercentEncodedMACNamesTheMachine() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        try await InventoryFlowTests.add(#"{"mac":"52:54:00:aa:00:09","hostname":"enc"}"#, port: api)
        let encoded = "/api/v1/machines/52%3A54%3A00%3Aaa%3A00%3A09"
        #expect(
            try await HTTPCall.run("GET", encoded, port: api, token: Self.token).json["hostname"] as? String == "enc")
        let patched = try await HTTPCall.run(
            "PATCH", encoded, port: api, token: Self.token, body: #"{"next_boot":"shell"}"#)
        #expect(patched.status == 200 && patched.json["next_boot"] as? String == "shell")
        #expect(try await HTTPCall.run("GET", encoded + "/timeline", port: api, token: Self.token).status == 200)
        await server.stop()
    }

    @Test func loaderIsAMachineField() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let created = try await HTTPCall.run(
            "POST", "/api/v1/machines", port: api, token: Self.token,
            body: #"{"mac": "52:54:00:aa:00:09", "loader": "grub"}"#)
        #expect(created.status == 201)
        #expect(created.json["loader"] as? String == "grub")
        let stored = try await server.server.inventory?.store.machine(
            MachineSelector(mac: HardwareAddress("52:54:00:aa:00:09")))
        #expect(stored?.loader == .grub)
        let cleared = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/52:54:00:aa:00:09", port: api, token: Self.token, body: #"{"loader": null}"#)
        #expect(cleared.status == 200)
        #expect(cleared.json["loader"] is NSNull)
        await server.stop()
    }

    @Test func tokensConflictsAndRemoval() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let body = #"{"mac": "52:54:00:aa:00:01", "serial": "SN1"}"#
        #expect(try await HTTPCall.run("POST", "/api/v1/machines", port: api, body: body).status == 401)
        #expect(
            try await HTTPCall.run("POST", "/api/v1/machines", port: api, token: "nope", body: body).status == 401)
        #expect(try await HTTPCall.run("GET", "/api/v1/machines", port: api).status == 401)
        #expect(
            try await HTTPCall.run("POST", "/api/v1/machines", port: api, token: Self.token, body: body).status == 201)
        let again = try await HTTPCall.run("POST", "/api/v1/machines", port: api, token: Self.token, body: body)
        // Both the MAC and the serial are taken; the database names the first it checks.
        #expect(again.status == 409 && again.error.hasPrefix("already in the inventory: "), "\(again.error)")
        let sameSerial = try await HTTPCall.run(
            "POST", "/api/v1/machines", port: api, token: Self.token,
            body: #"{"mac": "52:54:00:aa:00:02", "serial": "SN1"}"#)
        #expect(sameSerial.status == 409 && sameSerial.error.contains("serial SN1"))
        let changeMAC = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/serial:SN1", port: api, token: Self.token,
            body: #"{"mac": "52:54:00:aa:00:09"}"#)
        #expect(changeMAC.status == 400)
        let cleared = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/serial:SN1", port: api, token: Self.token,
            body: #"{"serial": null, "variables": {"kernel_args": "quiet"}}"#)
        #expect(cleared.status == 200 && cleared.json["serial"] is NSNull)
        #expect(cleared.json["variables"] as? [String: String] == ["kernel_args": "quiet"])
        // The answer is what is stored, timestamps included.
        let reread = try await HTTPCall.run("GET", "/api/v1/machines/52-54-00-aa-00-01", port: api, token: Self.token)
        #expect(reread.json["updated_at"] as? String == cleared.json["updated_at"] as? String)
        #expect(reread.json["updated_at"] as? String != reread.json["created_at"] as? String)
        #expect(
            try await HTTPCall.run("DELETE", "/api/v1/machines/52-54-00-aa-00-01", port: api, token: Self.token)
                .status == 204)
        #expect(
            try await HTTPCall.run("DELETE", "/api/v1/machines/52-54-00-aa-00-01", port: api, token: Self.token)
                .status == 404)
        let notInstalling = try await HTTPCall.run("GET", "/api/v1/machines/52-54-00-aa-00-01/done", port: api)
        // Without a token the callback says the same for every refusal (LANAttackTests).
        #expect(
            notInstalling.status == 403 && notInstalling.error == "no install in flight matches this machine and token")
        await server.stop()
    }

    @Test func readNetworksReadWithoutTheTokenButNeverWrite() async throws {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token, readNetworks: [IPv4Network("127.0.0.0/8")!])
        }
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        #expect(try await HTTPCall.run("GET", "/api/v1/machines", port: api).status == 200)
        #expect(try await HTTPCall.run("GET", "/api/v1/profiles", port: api).status == 200)
        #expect(
            try await HTTPCall.run("POST", "/api/v1/machines", port: api, body: #"{"mac": "52:54:00:aa:00:01"}"#)
                .status == 401)
        // What the console asks before it offers changes: a wrong token reads, but may not write.
        for (token, write) in [(nil, false), ("wrong-token-0000000000", false), (Self.token, true)] {
            let access = try await HTTPCall.run("GET", "/api/v1/access", port: api, token: token)
            #expect(access.status == 200 && access.json["write"] as? Bool == write, "\(token ?? "none")")
        }
        await server.stop()
    }

    @Test func withoutATokenNothingCanChange() async throws {
        let server = try TestServer()
        try await server.start(expecting: ["http", "api"])
        let reply = try await HTTPCall.run(
            "POST", "/api/v1/machines", port: server.port("api"), token: "anything",
            body: #"{"mac": "52:54:00:aa:00:01"}"#)
        #expect(reply.status == 401 && reply.error.contains("no API token is configured"))
        await server.stop()
    }

    /// Every path and method the OpenAPI document names is routed (none falls through to the
    /// catch-all 404), and the profile list carries the shipped header data.
    @Test func openAPIDocumentMatchesTheRoutes() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        try await InventoryFlowTests.add(#"{"mac": "52:54:00:aa:00:01", "next_boot": "once"}"#, port: api)
        let document = try await HTTPCall.run("GET", "/api/v1/openapi.json", port: api)
        #expect(document.status == 200)
        let paths = try #require(document.json["paths"] as? [String: [String: Any]])
        #expect(paths.count == 11)
        // The live stream never ends: its head is enough.
        let stream = try EventStreamRouteTests.open(port: api)
        #expect(try await EventStreamRouteTests.read(stream, until: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        close(stream)
        for (path, item) in paths where path != "/events" {
            for method in item.keys where method != "parameters" {
                let concrete = path.replacingOccurrences(of: "{id}", with: "52:54:00:aa:00:01")
                let body = method == "post" || method == "patch" ? "{}" : nil
                let reply = try await HTTPCall.run(
                    method.uppercased(), "/api/v1" + concrete, port: api, token: Self.token, body: body)
                #expect(!reply.error.contains("no such API path"), "\(method) \(path)")
                #expect(reply.status != 405 && reply.status != 500, "\(method) \(path): \(reply.status)")
            }
        }
        let profiles = try await HTTPCall.run("GET", "/api/v1/profiles", port: api, token: Self.token)
        let list = try #require(profiles.json["profiles"] as? [[String: Any]])
        let inst = try #require(list.first { $0["name"] as? String == "inst" })
        #expect(inst["title"] as? String == "Test installer")
        let variables = try #require(inst["variables"] as? [[String: Any]])
        #expect(variables.first?["name"] as? String == "suite" && variables.first?["default"] as? String == "bookworm")
        #expect(list.contains { $0["name"] as? String == "local" })
        await server.stop()
    }
}
