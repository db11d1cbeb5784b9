import Foundation
import Glibc
import Logging
import Testing

@testable import VBootServer

/// A LAN client asking for many different missing files cannot open an upstream transfer (and a
/// thread) for each: past the limit it is told to come back.
@Suite("Upstream asset cache: limits")
struct AssetCacheLimitTests {
    /// A TCP port that takes connections into its backlog and never answers: a mirror that hangs.
    static func silentListener() throws -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        try #require(bound)
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func missesBeyondTheLimitAreBusyAndTheSameFileStillJoins() throws {
        let (listener, port) = try Self.silentListener()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let counters = ServerCounters()
        let cache = try AssetCache(
            directory: directory, upstreams: [Upstream("up=http://127.0.0.1:\(port)")!], settings: CacheSettings(),
            counters: counters, logger: Logger(label: "test"), fillLimit: 2)
        var filling = 0
        for path in ["up/a", "up/b", "up/a"] {
            if case .filling = cache.lookup(path) { filling += 1 }
        }
        #expect(filling == 3)
        guard case .busy = cache.lookup("up/c") else {
            Issue.record("a third file at once was not refused")
            return
        }
        #expect(counters[.cacheMisses] == 2)
        #expect(counters[.cacheCoalesced] == 1)
        #expect(counters[.cacheFillsRefused] == 1)
        guard case .badPath = cache.lookup("up/../etc/passwd") else {
            Issue.record("a path with .. was not refused")
            return
        }
        // Closing the listener resets the waiting connections: the fills end.
        close(listener)
    }
}
