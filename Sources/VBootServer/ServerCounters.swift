import Synchronization

/// Process-wide counters, exported at `/metrics` in Prometheus text format.
public final class ServerCounters: Sendable {
    private let values = Mutex<[String: Int]>([:])

    public init() {}

    public func increment(_ name: String, by amount: Int = 1) {
        values.withLock { $0[name, default: 0] += amount }
    }

    public subscript(_ name: String) -> Int { values.withLock { $0[name] ?? 0 } }

    public func snapshot() -> [String: Int] { values.withLock { $0 } }

    /// Prometheus exposition format, one counter per line.
    public func prometheusText() -> String {
        snapshot().sorted { $0.key < $1.key }.map { "vboot_\($0.key)_total \($0.value)\n" }.joined()
    }
}
