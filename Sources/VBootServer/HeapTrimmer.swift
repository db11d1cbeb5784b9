import CLinux
import Logging
import ServiceLifecycle
import Synchronization

/// Gives memory the allocator holds but no longer uses back to the kernel. glibc keeps freed
/// chunks for reuse and returns only the top of each heap: after a 500-machine storm vboot used
/// 5 MiB of heap and held 49 MiB more, for good. Checked every second; a trim (about a
/// millisecond) runs when that much is free and the resident set grew since the last one.
final class HeapTrimmer: Service, Sendable {
    static let interval = Duration.seconds(1)
    /// Free heap worth a trim.
    static let freeThreshold = 4 << 20
    /// Growth of the resident set since the last trim that makes another one worth it (free
    /// chunks stay "free" in the statistics after their pages went back).
    static let growthThreshold = 2 << 20

    private let counters: ServerCounters
    private let logger: Logger
    private let residentAfterLastTrim = Mutex(0)

    init(counters: ServerCounters, logger: Logger) {
        self.counters = counters
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.interval)
                guard !Task.isCancelled else { return }
                self.trimIfWorthIt()
            }
        }
    }

    /// True when it trimmed and pages went back.
    @discardableResult
    func trimIfWorthIt() -> Bool {
        let before = ProcessMemory.current()
        guard before.heapFreeBytes >= Self.freeThreshold,
            before.residentBytes >= residentAfterLastTrim.withLock({ $0 }) + Self.growthThreshold
        else { return false }
        let released = vboot_heap_trim() == 1
        let after = ProcessMemory.current().residentBytes
        residentAfterLastTrim.withLock { $0 = after }
        counters.increment("heap_trims")
        logger.debug("memory: heap trimmed, resident \(before.residentBytes >> 20) -> \(after >> 20) MiB")
        return released
    }
}
