import Foundation
import Glibc
import Testing

@testable import VBootServer

/// `GET /api/v1/events` over a real socket: the token rule, events arriving as they are stored,
/// resuming after `Last-Event-ID`, and a browser that hangs up giving its stream back.
@Suite("Live events API", .serialized)
struct EventStreamRouteTests {
    static let token = InventoryFlowTests.token

    static func server() throws -> TestServer {
        try InventoryFlowTests.server { configuration in
            configuration.eventStreamLimits.keepalive = .milliseconds(300)
        }
    }

    /// Opens a stream on a plain socket (a browser's `fetch`); the descriptor, reading times out after 5 s.
    static func open(
        port: Int, path: String = "/api/v1/events", headers: [String] = [], token: String? = token
    ) throws -> Int32 {
        let fd = connectLoopbackTCP(port: port) { fd in
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        try #require(fd >= 0)
        let lines =
            ["GET \(path) HTTP/1.1", "Host: 127.0.0.1"] + (token.map { ["Authorization: Bearer \($0)"] } ?? [])
            + headers
        let request = lines.joined(separator: "\r\n") + "\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        return fd
    }

    /// Reads until `text` has arrived (or 10 s pass); everything read.
    static func read(_ fd: Int32, until text: String) async throws -> String {
        try await HTTPServiceTests.offThePool {
            var seen = ""
            var scratch = [UInt8](repeating: 0, count: 4096)
            let deadline = ContinuousClock.now + .seconds(10)
            while !seen.contains(text), ContinuousClock.now < deadline {
                let got = recv(fd, &scratch, scratch.count, 0)
                if got <= 0 { break }
                seen += String(decoding: scratch[0..<got], as: UTF8.self)
            }
            return seen
        }
    }

    @Test func eventsArriveAsTheyAreStoredAndResumeAfterTheLastEventID() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let refused = try await HTTPCall.run("GET", "/api/v1/events", port: api)
        #expect(refused.status == 401)
        #expect(try await HTTPCall.run("GET", "/api/v1/events?mac=nope", port: api, token: Self.token).status == 400)
        let live = try Self.open(port: api)
        defer { close(live) }
        let head = try await Self.read(live, until: "retry: 2000\n\n")
        #expect(head.hasPrefix("HTTP/1.1 200"))
        #expect(head.lowercased().contains("content-type: text/event-stream"))
        try await InventoryFlowTests.add(#"{"mac":"52:54:00:ee:00:01","hostname":"live1"}"#, port: api)
        let first = try await Self.read(live, until: "added by api")
        #expect(first.contains("event: timeline\nid: "))
        #expect(first.contains("\"mac\":\"52:54:00:ee:00:01\""))
        let id = try #require(first.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { $0.dropFirst(4) })
        let patched = try await HTTPCall.run(
            "PATCH", "/api/v1/machines/live1", port: api, token: Self.token, body: #"{"next_boot":"local"}"#)
        #expect(patched.status == 200)
        #expect(try await Self.read(live, until: "changed by api").contains("\"next_boot\":\"local\""))
        // A reconnecting browser sends the last id it saw: it gets what came after, not before.
        let resumed = try Self.open(port: api, headers: ["Last-Event-ID: \(id)"])
        defer { close(resumed) }
        let again = try await Self.read(resumed, until: "changed by api")
        #expect(again.contains("changed by api") && !again.contains("added by api"))
        // One machine's stream leaves others' events out.
        let other = try Self.open(port: api, path: "/api/v1/events?mac=52:54:00:ee:00:02&after=0")
        defer { close(other) }
        try await InventoryFlowTests.add(#"{"mac":"52:54:00:ee:00:02"}"#, port: api)
        let mine = try await Self.read(other, until: "added by api")
        #expect(mine.contains("52:54:00:ee:00:02") && !mine.contains("52:54:00:ee:00:01"))
        await server.stop()
    }

    /// Read-only screens (a read network, no token) have their own places: when those are taken, a
    /// stream with the token still opens.
    @Test func streamsWithoutTheTokenCannotTakeTheTokensPlaces() async throws {
        let server = try TestServer { configuration, _ in
            configuration.apiAccess = APIAccess(token: Self.token, readNetworks: [IPv4Network("127.0.0.0/8")!])
            configuration.eventStreamLimits.subscribersWithoutToken = 1
        }
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let reader = try Self.open(port: api, token: nil)
        defer { close(reader) }
        #expect(try await Self.read(reader, until: "retry:").hasPrefix("HTTP/1.1 200"))
        let another = try Self.open(port: api, token: nil)
        defer { close(another) }
        let refused = try await Self.read(another, until: "}")
        #expect(refused.hasPrefix("HTTP/1.1 503") && refused.contains("without the token"), "\(refused)")
        let admin = try Self.open(port: api)
        defer { close(admin) }
        #expect(try await Self.read(admin, until: "retry:").hasPrefix("HTTP/1.1 200"))
        await server.stop()
    }

    /// An id from another database (the store was replaced) gets a reset, then the new events.
    @Test func anIDFromAnotherTimelineGetsAReset() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let stream = try Self.open(port: api, headers: ["Last-Event-ID: 987654"])
        defer { close(stream) }
        #expect(try await Self.read(stream, until: "event: reset\n").contains("event: reset\ndata: {}\n\n"))
        try await InventoryFlowTests.add(#"{"mac":"52:54:00:ee:00:09"}"#, port: api)
        #expect(try await Self.read(stream, until: "added by api").contains("52:54:00:ee:00:09"))
        await server.stop()
    }

    /// A browser that closes the page: the next keepalive finds the socket gone, and the stream's
    /// place and queue are given back.
    @Test func aBrowserThatHangsUpGivesItsStreamBack() async throws {
        let server = try Self.server()
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let counters = try #require(server.server.inventory?.counters)
        let fd = try Self.open(port: api)
        #expect(try await Self.read(fd, until: "retry: 2000\n\n").contains("200"))
        #expect(counters.gauge(.eventStreamsOpen) == 1)
        #expect(try await Self.read(fd, until: ": keepalive\n\n").contains("keepalive"))
        close(fd)
        let deadline = ContinuousClock.now + .seconds(10)
        while counters.gauge(.eventStreamsOpen) > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counters.gauge(.eventStreamsOpen) == 0)
        #expect(counters.gauge(.eventStreamsQueuedBytes) == 0)
        let metrics = try await HTTPCall.run("GET", "/metrics", port: api).text
        #expect(metrics.contains("vboot_event_streams_opened_total 1\n"))
        await server.stop()
    }

    /// The console's files come from its directory, with a policy that allows no other origin;
    /// nothing outside the directory or hidden in it is served.
    @Test func theConsoleIsServedOnTheAPIListenerOnly() async throws {
        let server = try InventoryFlowTests.server { configuration in
            configuration.consoleDirectory = FileManager.default.currentDirectoryPath + "/ui"
        }
        try await server.start(expecting: ["http", "api"])
        let api = server.port("api")
        let page = try await HTTPCall.run("GET", "/ui/", port: api)
        #expect(page.status == 200 && page.text.contains("<title>vboot"))
        #expect((page.headers["Content-Security-Policy"] as? String)?.contains("default-src 'none'") == true)
        #expect((page.headers["Content-Type"] as? String)?.hasPrefix("text/html") == true)
        let script = try await HTTPCall.run("GET", "/ui/js/console.js", port: api)
        #expect(
            script.status == 200 && (script.headers["Content-Type"] as? String)?.hasPrefix("text/javascript") == true)
        // A file of a type the console serves, outside its directory: only the path rules keep it out.
        let outside = FileManager.default.currentDirectoryPath + "/.build/outside.txt"
        try "outside".write(toFile: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        for path in [
            "/ui/../.build/outside.txt", "/ui/%2e%2e/.build/outside.txt", "/ui/..%2f.build/outside.txt",
            "/ui/.hidden.js",
            "/ui/js", "/ui/nope.html",
        ] {
            #expect(try await Curl.run(["--path-as-is", "http://127.0.0.1:\(api)\(path)"]).status == 404, "\(path)")
        }
        #expect(try await HTTPCall.run("GET", "/ui/", port: server.port("http")).status == 404)
        let root = try await Curl.run(["http://127.0.0.1:\(api)/"])
        #expect(root.status == 303)
        await server.stop()
    }

    /// Boot networks are often offline, and a page that loads code from elsewhere is code the
    /// site did not install: every file of the console refers only to its own origin.
    @Test func theShippedConsoleLoadsNothingFromElsewhere() throws {
        let directory = FileManager.default.currentDirectoryPath + "/ui"
        let files = try #require(FileManager.default.enumerator(atPath: directory)).compactMap { $0 as? String }
        #expect(files.contains("index.html"))
        for file in files where [".html", ".js", ".css"].contains(where: file.hasSuffix) {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            for scheme in ["http://", "https://", "//fonts.", "@import"] {
                #expect(!text.contains(scheme), "\(file) mentions \(scheme)")
            }
        }
    }
}
