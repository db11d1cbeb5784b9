import Glibc
import Logging
import Testing

@testable import VBootServer

@Suite("Heap trimmer")
struct HeapTrimmerTests {
    /// Every other 4 KiB chunk of 32 MiB freed: 16 MiB free in holes glibc keeps. The trimmer
    /// gives them back once, and not again until the resident set grows.
    @Test func freeHolesGoBackOnce() throws {
        var chunks: [UnsafeMutableRawPointer] = []
        for _ in 0..<8192 {
            let chunk = try #require(malloc(4096))
            memset(chunk, 1, 4096)
            chunks.append(chunk)
        }
        for index in stride(from: 0, to: chunks.count, by: 2) { free(chunks[index]) }
        defer { for index in stride(from: 1, to: chunks.count, by: 2) { free(chunks[index]) } }
        #expect(ProcessMemory.current().heapFreeBytes >= 16 << 20)
        let counters = ServerCounters()
        let trimmer = HeapTrimmer(counters: counters, logger: Logger(label: "test"))
        #expect(trimmer.trimIfWorthIt())
        #expect(counters[.heapTrims] == 1)
        #expect(!trimmer.trimIfWorthIt())
        #expect(counters[.heapTrims] == 1)
    }
}
