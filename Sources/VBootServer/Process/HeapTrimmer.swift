import CLinux
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Gives memory the allocator holds but no longer uses back to the kernel. glibc keeps freed
/// chunks for reuse and returns only the top of each heap: after a 500-machine storm vboot used
/// 5 MiB of heap and held 49 MiB more, for good. Checked four times a second; a trim (about a
/// millisecond) runs when that much is free and more was freed or reused since the last one.
final class HeapTrimmer: Service, Sendable {
    static let interval = Duration.milliseconds(250)
    /// Free heap worth a trim.
    static let freeThreshold = 4 << 20
    /// Growth since the last trim, of the free heap (more was freed) or of the resident set (freed
    /// pages were used again), that makes another trim worth it: trimmed chunks still count as
    /// free, so the free total alone would trim every second for nothing.
    static let growthThreshold = 2 << 20

    private let counters: ServerCounters
    private let logger: Logger
    private let afterLastTrim = NIOLockedValueBox((resident: 0, free: 0))

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
        let last = afterLastTrim.withLockedValue { $0 }
        guard before.heapFreeBytes >= Self.freeThreshold,
            before.residentBytes >= last.resident + Self.growthThreshold
                || before.heapFreeBytes >= last.free + Self.growthThreshold
        else { return false }
        let released = vboot_heap_trim() == 1
        let after = ProcessMemory.current()
        afterLastTrim.withLockedValue { $0 = (after.residentBytes, after.heapFreeBytes) }
        counters.increment(.heapTrims)
        logger.debug("memory: heap trimmed, resident \(before.residentBytes >> 20) -> \(after.residentBytes >> 20) MiB")
        return released
    }
}
