import Foundation
import Glibc
import Testing
import VBootServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP surface over a real socket.
@Suite("HTTP service", .serialized)
struct HTTPServiceTests {
    static func get(
        _ path: String, port: Int, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: Data, headers: [AnyHashable: Any]) {
        let call = try await HTTPCall.run("GET", path, port: port, headers: headers)
        return (call.status, call.body, call.headers)
    }

    @Test func scriptsPerMACAndDefault() async throws {
        let server = try TestServer()
        try server.write(
            Array("#!ipxe\necho machine {{mac}} uuid {{uuid}} from {{server}}\n".utf8),
            to: "scripts/machines/52-54-00-aa-00-01.ipxe")
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        let own = try await Self.get("/boot.ipxe?mac=52:54:00:AA:00:01&uuid=1234-abcd", port: port)
        #expect(own.status == 200)
        #expect(
            String(decoding: own.body, as: UTF8.self)
                == "#!ipxe\necho machine 52-54-00-aa-00-01 uuid 1234-abcd from http://127.0.0.1:\(port)\n")
        let other = try await Self.get("/boot.ipxe?mac=52-54-00-aa-00-99", port: port)
        #expect(String(decoding: other.body, as: UTF8.self) == "#!ipxe\necho default for 52-54-00-aa-00-99\n")
        #expect(server.server.counters[.httpScriptsServed] == 2)
        await server.stop()
    }

    @Test func brokenTemplateIsA500ThatSaysWhich() async throws {
        let server = try TestServer()
        try server.write(Array("{{#unclosed}}".utf8), to: "scripts/machines/52-54-00-aa-00-02.ipxe")
        try await server.start(expecting: ["http"])
        let reply = try await Self.get("/boot.ipxe?mac=52-54-00-aa-00-02", port: server.port("http"))
        #expect(reply.status == 500)
        #expect(String(decoding: reply.body, as: UTF8.self).contains("machines/52-54-00-aa-00-02.ipxe"))
        await server.stop()
    }

    /// 200 kB comes from memory, 3 MB through sendfile (`FileRegionSender`).
    @Test(arguments: [200_000, 3_000_000])
    func assetsWithRanges(size: Int) async throws {
        let server = try TestServer()
        let content = randomBytes(size, seed: 3)
        try server.write(content, to: "assets/debian/linux")
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        let whole = try await Self.get("/assets/debian/linux", port: port)
        #expect(whole.status == 200)
        #expect([UInt8](whole.body) == content)
        let part = try await Self.get("/assets/debian/linux", port: port, headers: ["Range": "bytes=1000-1999"])
        #expect(part.status == 206)
        #expect([UInt8](part.body) == Array(content[1000...1999]))
        #expect(part.headers["Content-Range"] as? String == "bytes 1000-1999/\(size)")
        let across = try await Self.get("/assets/debian/linux", port: port, headers: ["Range": "bytes=60000-140000"])
        #expect(across.status == 206 && [UInt8](across.body) == Array(content[60000...140000]))
        let tail = try await Self.get("/assets/debian/linux", port: port, headers: ["Range": "bytes=-10"])
        #expect([UInt8](tail.body) == Array(content.suffix(10)))
        let beyond = try await Self.get(
            "/assets/debian/linux", port: port, headers: ["Range": "bytes=\(size + 100_000)-"])
        #expect(beyond.status == 416)
        // A settled file (cached when small), replaced by one of the same size and the same old
        // modification time, is served new, not from memory.
        for seed in [UInt64(4), 6] {
            let replaced = randomBytes(size, seed: seed)
            try FileManager.default.removeItem(at: server.root.appendingPathComponent("assets/debian/linux"))
            try server.write(replaced, to: "assets/debian/linux", settled: true)
            let again = try await Self.get("/assets/debian/linux", port: port)
            #expect(again.status == 200 && [UInt8](again.body) == replaced)
            #expect([UInt8](try await Self.get("/assets/debian/linux", port: port).body) == replaced)
        }
        await server.stop()
    }

    /// Clients that hang up in the middle of a sendfile download cost nothing lasting: the
    /// next download on a new connection is whole.
    @Test func abandonedDownloads() async throws {
        let server = try TestServer()
        let content = randomBytes(8_000_000, seed: 5)
        try server.write(content, to: "assets/big")
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        let firstReads = try await Self.offThePool {
            try (0..<5).map { _ in
                let fd = try Self.rawGET("/assets/big", port: port)
                defer { close(fd) }
                var scratch = [UInt8](repeating: 0, count: 65536)
                return recv(fd, &scratch, scratch.count, 0)
            }
        }
        #expect(firstReads.allSatisfy { $0 > 0 })
        let whole = try await Self.get("/assets/big", port: port)
        #expect(whole.status == 200 && [UInt8](whole.body) == content)
        await server.stop()
    }

    /// Blocking socket calls on a thread of their own: on Swift's cooperative pool (one thread
    /// per CPU) they starved the server under test while other suites blocked the rest.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// A GET on a plain socket with a small receive buffer, for clients that read slowly or hang up.
    static func rawGET(_ path: String, port: Int) throws -> Int32 {
        let fd = connectLoopbackTCP(port: port) { fd in
            var small: Int32 = 16384
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        try #require(fd >= 0)
        let request = "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    /// A file truncated in place under a sendfile download (`cp new old` over it) ends that
    /// download within seconds; NIO alone would retry the zero-byte sendfile for ever.
    @Test func fileTruncatedUnderADownloadEndsIt() async throws {
        let server = try TestServer()
        try server.write(randomBytes(16_000_000, seed: 7), to: "assets/big")
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        let path = server.root.appendingPathComponent("assets/big").path
        let (first, total, ended) = try await Self.offThePool {
            let fd = try Self.rawGET("/assets/big", port: port)
            defer { close(fd) }
            var scratch = [UInt8](repeating: 0, count: 65536)
            let first = recv(fd, &scratch, scratch.count, 0)
            guard first > 0, truncate(path, 100_000) == 0 else { return (first, first, false) }
            var total = first
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let got = recv(fd, &scratch, scratch.count, 0)
                if got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return (first, total, true) }
                if got > 0 { total += got }
            }
            return (first, total, false)
        }
        #expect(first > 0)
        #expect(ended, "the download of a truncated file was still open after 10 s")
        #expect(total < 16_000_000)
        #expect(try await Self.get("/health", port: port).status == 200)
        await server.stop()
    }

    @Test func confinement() async throws {
        let server = try TestServer()
        try server.write([1], to: "assets/ok")
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("assets/escape").path, withDestinationPath: "/etc")
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        #expect(try await Self.get("/assets/escape/hostname", port: port).status == 403)
        #expect(try await Self.get("/assets/%2e%2e/%2e%2e/etc/hostname", port: port).status != 200)
        #expect(try await Self.get("/assets/nothing", port: port).status == 404)
        #expect(try await Self.get("/assets/ok", port: port).status == 200)
        await server.stop()
    }

    @Test func ipxeBinariesAreApplicationEFI() async throws {
        let server = try TestServer()
        try server.write([0x4D, 0x5A, 0, 0], to: "ipxe/ipxe.efi")
        try await server.start(expecting: ["http"])
        let reply = try await Self.get("/ipxe/ipxe.efi", port: server.port("http"))
        #expect(reply.status == 200)
        #expect(reply.headers["Content-Type"] as? String == "application/efi")
        #expect([UInt8](reply.body) == [0x4D, 0x5A, 0, 0])
        await server.stop()
    }

    /// `autoexec.ipxe` beside the binary and at the root: vboot's embedded script for the name the
    /// client used (a `Host` header that could splice commands in gives way to `--listen`).
    @Test func autoexecIsTheEmbeddedScriptForTheHostAsked() async throws {
        let server = try TestServer()
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        let template = try String(contentsOfFile: "ipxe/embed.ipxe", encoding: .utf8)
        for path in ["/ipxe/autoexec.ipxe", "/autoexec.ipxe"] {
            let reply = try await HTTPCall.run("GET", path, port: port, headers: ["Host": "boot.example:8080"])
            #expect(reply.status == 200, "\(path)")
            #expect(reply.text == template.replacingOccurrences(of: "{{server}}", with: "http://boot.example:8080"))
        }
        let spliced = try await HTTPCall.run("GET", "/autoexec.ipxe", port: port, headers: ["Host": "x;shell"])
        #expect(spliced.text.contains("set vboot-server http://127.0.0.1:0\n"))
        #expect(!spliced.text.contains("x;shell"))
        await server.stop()
    }

    /// Issue 11: `/ipxe/` is not a file server for the iPXE directories (`/boot` by default, with
    /// kernels and initramfs images): only iPXE binary names, and the files a `vboot rom build`
    /// manifest lists in its own directory. Anything else is a 404, so nothing confirms it exists.
    @Test func ipxeServesOnlyBinariesAndManifestFiles() async throws {
        let server = try TestServer { configuration, root in
            configuration.ipxeDirectories = [
                root.appendingPathComponent("rom").path, root.appendingPathComponent("ipxe").path,
            ]
        }
        try server.write(Array("initramfs with keys\n".utf8), to: "ipxe/hostname")
        try server.write([0x4D, 0x5A, 1], to: "ipxe/ipxe.efi")
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("ipxe/secret.efi").path, withDestinationPath: "/etc/hostname")
        try server.write([0x55, 0xAA, 2], to: "ipxe/e1000.rom")
        try server.write([0x55, 0xAA, 3], to: "rom/virtio-net.rom")
        try server.write([0x55, 0xAA, 4], to: "rom/stray.rom")
        try server.write(
            Array(
                #"{"commit": "abc", "files": [{"name": "virtio-net.rom", "size": 3, "sha256": "00"}], "server": "x"}"#
                    .utf8), to: "rom/manifest.json")
        let etcHostname = try Data(contentsOf: URL(fileURLWithPath: "/etc/hostname"))
        try await server.start(expecting: ["http"])
        let port = server.port("http")
        for path in [
            "/ipxe/hostname", "/ipxe/secret.efi", "/ipxe/e1000.rom", "/ipxe/stray.rom", "/ipxe/manifest.json",
            "/ipxe/..%2fipxe%2fhostname",
        ] {
            for method in ["GET", "HEAD"] {
                let reply = try await HTTPCall.run(method, path, port: port)
                #expect(reply.status == 404, "\(method) \(path): \(reply.status)")
                #expect(!reply.text.contains("keys") && reply.body != etcHostname, "\(method) \(path)")
            }
        }
        let binary = try await Self.get("/ipxe/ipxe.efi", port: port)
        #expect(binary.status == 200 && [UInt8](binary.body) == [0x4D, 0x5A, 1])
        let rom = try await Self.get("/ipxe/virtio-net.rom", port: port)
        #expect(rom.status == 200 && [UInt8](rom.body) == [0x55, 0xAA, 3])
        await server.stop()
    }

    @Test func metricsArePrometheusText() async throws {
        let server = try TestServer()
        try await server.start(expecting: ["http", "api"])
        _ = try await Self.get("/boot.ipxe?mac=52-54-00-00-00-01", port: server.port("http"))
        // On the API listener only (README: /metrics).
        #expect(try await Self.get("/metrics", port: server.port("http")).status == 404)
        let metrics = String(decoding: try await Self.get("/metrics", port: server.port("api")).body, as: UTF8.self)
        #expect(metrics.contains("vboot_http_scripts_served_total 1\n"))
        // Memory gauges: the resident set is at least the heap in use.
        func gauge(_ name: String) -> Int? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap {
                Int($0.split(separator: " ")[1])
            }
        }
        let resident = try #require(gauge("process_resident_memory_bytes"))
        let heap = try #require(gauge("vboot_heap_in_use_bytes"))
        #expect(resident > 1 << 20 && heap > 0 && resident > heap)
        #expect(gauge("vboot_heap_free_bytes") != nil)
        await server.stop()
    }
}
