import Foundation
import NIOConcurrencyHelpers
import Testing
import UpstreamFetch

/// libcurl through its one wrapper, against a real HTTP server on loopback (a vboot serving its
/// assets directory, which answers Range requests as a mirror does).
@Suite("Upstream transfer (libcurl)", .serialized)
struct UpstreamTransferTests {
    static let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    static func upstream() async throws -> (TestServer, String) {
        let server = try TestServer()
        try server.write(content, to: "assets/debian/initrd.gz")
        try await server.start(expecting: ["http"])
        return (server, "http://127.0.0.1:\(server.port("http"))/assets")
    }

    /// Runs a transfer on a thread of its own, as the cache does.
    static func fetch(
        _ request: UpstreamTransfer.Request, stopAfter: Int? = nil
    ) async -> (Result<UpstreamTransfer.Response, UpstreamError>, [UpstreamTransfer.Response], [UInt8]) {
        await withCheckedContinuation { continuation in
            Thread {
                var responses: [UpstreamTransfer.Response] = []
                var body: [UInt8] = []
                let result = Result { () throws(UpstreamError) in
                    try UpstreamTransfer.run(
                        request,
                        onResponse: {
                            responses.append($0); return true
                        },
                        onData: { bytes in
                            body += bytes
                            return stopAfter.map { body.count < $0 } ?? true
                        })
                }
                continuation.resume(returning: (result, responses, body))
            }.start()
        }
    }

    @Test func aWholeFileAndItsResponse() async throws {
        let (server, base) = try await Self.upstream()
        let (result, responses, body) = await Self.fetch(.init(url: "\(base)/debian/initrd.gz"))
        let response = try result.get()
        #expect(response.status == 200)
        #expect(response.contentLength == Int64(Self.content.count))
        #expect(responses == [response])
        #expect(body == Self.content)
        await server.stop()
    }

    @Test func aResumedDownloadAsksForTheRest() async throws {
        let (server, base) = try await Self.upstream()
        var request = UpstreamTransfer.Request(url: "\(base)/debian/initrd.gz")
        request.resumeFrom = 100_000
        let (result, _, body) = await Self.fetch(request)
        #expect(try result.get().status == 206)
        #expect(body == Array(Self.content[100_000...]))
        await server.stop()
    }

    @Test func anErrorStatusIsAResponseNotAThrow() async throws {
        let (server, base) = try await Self.upstream()
        let (result, _, _) = await Self.fetch(.init(url: "\(base)/debian/missing"))
        #expect(try result.get().status == 404)
        await server.stop()
    }

    @Test func theCallerCanStopIt() async throws {
        let (server, base) = try await Self.upstream()
        let (result, _, body) = await Self.fetch(.init(url: "\(base)/debian/initrd.gz"), stopAfter: 1)
        #expect(throws: UpstreamError.stopped) { try result.get() }
        #expect(body.count < Self.content.count)
        await server.stop()
    }

    @Test func unreachableAndNonHTTPURLsFailWithTheReason() async throws {
        let (refused, _, _) = await Self.fetch(.init(url: "http://127.0.0.1:9/x"))
        #expect(throws: UpstreamError.self) { try refused.get() }
        if case .failure(let error) = refused {
            #expect(error.description.hasPrefix("http://127.0.0.1:9/x: "))
            #expect(error.description.contains("onnect"))
        }
        // A mirror's URL is HTTP or HTTPS; a file: URL (or a redirect to one) is not fetched.
        let (file, _, body) = await Self.fetch(.init(url: "file:///etc/passwd"))
        #expect(throws: UpstreamError.self) { try file.get() }
        #expect(body.isEmpty)
    }
}
