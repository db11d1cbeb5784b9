import Foundation
import Testing
import VBootServer

/// The API has its own listeners (loopback by default), answers only to its own host names
/// (DNS rebinding), and can speak TLS; the boot listener serves no API but the callback.
@Suite("API listener", .serialized)
struct APIListenerTests {
    static let token = InventoryFlowTests.token

    @Test func theBootListenerServesNoAPIAndTheAPIListenerNoBootFiles() async throws {
        let server = try InventoryFlowTests.server()
        try await server.start(expecting: ["http", "api"])
        let boot = server.port("http")
        let api = server.port("api")
        #expect(boot != api)
        for path in ["/api/v1/machines", "/api/v1/openapi.json", "/api/v1/leases", "/metrics"] {
            let reply = try await HTTPCall.run("GET", path, port: boot, token: Self.token)
            #expect(reply.status == 404, "\(path) on the boot port")
            #expect(!reply.text.contains("machines\":"), "\(path) on the boot port")
        }
        #expect(try await HTTPCall.run("GET", "/api/v1/machines", port: api, token: Self.token).status == 200)
        #expect(try await HTTPCall.run("GET", "/metrics", port: api).status == 200)
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-01", port: api).status == 404)
        #expect(try await HTTPCall.run("GET", "/boot.ipxe?mac=52-54-00-aa-00-01", port: boot).status == 200)
        for port in [boot, api] { #expect(try await HTTPCall.run("GET", "/health", port: port).text == "ok\n") }
        await server.stop()
    }

    /// A browser page from a rebound name sends that name as Host; only the API's own names pass.
    @Test func aRebindingHostIsRefusedAndCounted() async throws {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token, readNetworks: [IPv4Network("127.0.0.0/8")!])
            configuration.apiHosts = ["vboot.lab"]
        }
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let url = "http://127.0.0.1:\(api)/api/v1/machines"
        for host in ["evil.example", "evil.example:\(api)", "vboot.lab.evil.example", "127.0.0.1.evil.example", "a b"] {
            let refused = try await Curl.run(["-H", "Host: \(host)", url])
            #expect(refused.status == 421, "Host \(host): \(refused)")
            #expect(refused.body.contains("answers only to its own names") && !refused.body.contains("machines\""))
        }
        for host in [
            "127.0.0.1:\(api)", "127.0.0.1", "localhost:\(api)", "LOCALHOST", "[::1]:\(api)", "vboot.lab",
            "VBoot.Lab.:\(api)", server.server.configuration.serverName,
        ] {
            let allowed = try await Curl.run(["-H", "Host: \(host)", url])
            #expect(allowed.status == 200 && allowed.body.contains("\"machines\""), "Host \(host): \(allowed)")
        }
        let metrics = try await HTTPCall.run("GET", "/metrics", port: api).text
        #expect(metrics.contains("vboot_api_host_refused_total 5\n"))
        // The boot listener takes any Host: iPXE and installers use whatever name the site gave.
        let boot = try await Curl.run(["-H", "Host: evil.example", "http://127.0.0.1:\(server.port("http"))/health"])
        #expect(boot.status == 200)
        await server.stop()
    }

    @Test func listenAddressesParseAndKeepLoopbackUnlessMoved() {
        #expect(APIListenAddress("10.0.0.2:8443") == APIListenAddress(host: "10.0.0.2", port: 8443))
        #expect(APIListenAddress("[::1]:8081") == APIListenAddress(host: "::1", port: 8081))
        for bad in ["10.0.0.2", "vboot.lab:8081", "10.0.0.2:", "10.0.0.2:99999", "::1:8081", "[::1]8081", "1.2.3:80"] {
            #expect(APIListenAddress(bad) == nil, "\(bad)")
        }
        #expect(APIListenAddress.effective([]) == [.loopback])
        let lan = APIListenAddress("10.0.0.2:8443")!
        #expect(APIListenAddress.effective([lan]) == [.loopback, lan])
        let moved = APIListenAddress("127.0.0.1:9081")!
        #expect(APIListenAddress.effective([moved, lan]) == [moved, lan])
        let wildcard = APIListenAddress("0.0.0.0:8081")!
        #expect(APIListenAddress.effective([wildcard]) == [wildcard])
    }

    @Test func configKeysAndFlagsNameListenersHostsAndTLS() throws {
        let file = try ConfigFile.parse(
            "api: {listen: [10.0.0.2:8443, \"[::1]:9000\"], hosts: [vboot.lab], tls_cert: api.crt, tls_key: api.key}",
            path: "/etc/vboot/vboot.yaml")
        let configuration = try ServerConfiguration.merged(base: ServerConfiguration(), file: file)
        #expect(configuration.apiListen.map(\.description) == ["10.0.0.2:8443", "[::1]:9000"])
        #expect(configuration.apiHosts == ["vboot.lab"])
        #expect(configuration.apiTLS == APITLSFiles(certificate: "/etc/vboot/api.crt", key: "/etc/vboot/api.key"))
        for (text, reason) in [
            ("api: {listen: [vboot.lab:80]}", "ADDRESS:PORT"), ("api: {hosts: [\"a b\"]}", "a DNS name"),
            ("api: {tls_cert: a.crt}", "api: tls_cert and tls_key go together"),
        ] {
            #expect(throws: ConfigError.self, "\(text)") { try ConfigFile.parse(text, path: "x.yaml") }
            do { _ = try ConfigFile.parse(text, path: "x.yaml") } catch {
                #expect("\(error)".contains(reason), "\(text): \(error)")
            }
        }
    }

    // MARK: TLS

    /// A self-signed certificate for 127.0.0.1 and localhost, made by openssl in `directory`.
    static func makeCertificate(in directory: URL, name: String) throws -> (cert: String, key: String) {
        let cert = directory.appendingPathComponent("\(name).crt").path
        let key = directory.appendingPathComponent("\(name).key").path
        try runTool(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=vboot test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key,
                "-out", cert,
            ])
        return (cert, key)
    }

    @Test func tlsServesTheAPIToAClientThatTrustsTheCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try Self.makeCertificate(in: directory, name: "api")
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token)
            configuration.apiTLS = APITLSFiles(certificate: cert, key: key)
        }
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let https = "https://127.0.0.1:\(api)/api/v1/machines"
        let trusted = try await Curl.run(["--cacert", cert, "-H", "Authorization: Bearer \(Self.token)", https])
        #expect(trusted.status == 200 && trusted.body.contains("\"machines\""), "\(trusted)")
        // An untrusted certificate is refused by the client; plain HTTP gets no API answer.
        #expect(try await Curl.run([https]).exitCode == 60)
        let plain = try await Curl.run([
            "-H", "Authorization: Bearer \(Self.token)", "http://127.0.0.1:\(api)/api/v1/machines",
        ])
        #expect(plain.status != 200 && !plain.body.contains("\"machines\""))
        // The Host check holds inside TLS too.
        #expect(try await Curl.run(["--cacert", cert, "-H", "Host: evil.example", https]).status == 421)
        // The boot listener stays plain HTTP.
        #expect(try await HTTPCall.run("GET", "/health", port: server.port("http")).status == 200)
        await server.stop()
    }

    @Test func aBadCertificateOrKeyStopsTheStartWithTheReason() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try Self.makeCertificate(in: directory, name: "api")
        let (_, otherKey) = try Self.makeCertificate(in: directory, name: "other")
        let garbage = directory.appendingPathComponent("garbage.pem").path
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let cases: [(APITLSFiles, String)] = [
            (APITLSFiles(certificate: directory.path + "/missing.crt", key: key), "--api-tls-cert"),
            (APITLSFiles(certificate: cert, key: directory.path + "/missing.key"), "--api-tls-key"),
            (APITLSFiles(certificate: garbage, key: key), "is not a PEM certificate"),
            (APITLSFiles(certificate: cert, key: garbage), "is not a PEM private key"),
            (APITLSFiles(certificate: cert, key: otherKey), "does not belong to --api-tls-cert"),
        ]
        for (files, reason) in cases {
            let server = try TestServer { configuration, _ in configuration.apiTLS = files }
            do {
                try await server.server.run()
                Issue.record("started with \(files)")
            } catch {
                #expect("\(error)".contains(reason), "\(files): \(error)")
            }
            #expect(throws: StartupError.self) { _ = try server.server.validate() }
            await server.stop()
        }
    }
}
