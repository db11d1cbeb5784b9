import Synchronization

/// Process-wide counters, exported at `/metrics` in Prometheus text format.
public final class ServerCounters: Sendable {
    private let values = Mutex<[String: Int]>([:])
    private let gauges = Mutex<[String: @Sendable () -> Int]>([:])

    public init() {}

    public func increment(_ name: String, by amount: Int = 1) {
        values.withLock { $0[name, default: 0] += amount }
    }

    public subscript(_ name: String) -> Int { values.withLock { $0[name] ?? 0 } }

    public func snapshot() -> [String: Int] { values.withLock { $0 } }

    /// A value read when `/metrics` is asked (a current count or a configured limit), exported as
    /// `vboot_NAME` without `_total`.
    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Int) {
        gauges.withLock { $0[name] = read }
    }

    /// Prometheus exposition format, one counter per line, then the gauges.
    public func prometheusText() -> String {
        let readers = gauges.withLock { $0 }.sorted { $0.key < $1.key }
        return snapshot().sorted { $0.key < $1.key }.map { "vboot_\($0.key)_total \($0.value)\n" }.joined()
            + readers.map { "vboot_\($0.key) \($0.value())\n" }.joined()
    }
}
