import Synchronization

/// Process-wide counters, exported at `/metrics` in Prometheus text format.
public final class ServerCounters: Sendable {
    private let values = Mutex<[String: Int]>([:])
    private let gauges = Mutex<[String: Int]>([:])

    public init() {}

    /// `name` may end in a label set, `http_connections_refused{reason="total_limit"}`.
    public func increment(_ name: String, by amount: Int = 1) {
        values.withLock { $0[name, default: 0] += amount }
    }

    public subscript(_ name: String) -> Int { values.withLock { $0[name] ?? 0 } }

    public func snapshot() -> [String: Int] { values.withLock { $0 } }

    /// A value that goes up and down (open connections), exported without `_total`.
    public func adjust(gauge name: String, by amount: Int) {
        gauges.withLock { $0[name, default: 0] += amount }
    }

    public func gauge(_ name: String) -> Int { gauges.withLock { $0[name] ?? 0 } }

    /// Prometheus exposition format, one counter per line (`_total` goes before a label set).
    public func prometheusText() -> String {
        let counters = snapshot().sorted { $0.key < $1.key }.map { key, value in
            let labels = key.firstIndex(of: "{").map { key[$0...] } ?? ""
            return "vboot_\(key.dropLast(labels.count))_total\(labels) \(value)\n"
        }
        let gauges = gauges.withLock { $0 }.sorted { $0.key < $1.key }.map { "vboot_\($0.key) \($0.value)\n" }
        return (counters + gauges).joined()
    }
}
