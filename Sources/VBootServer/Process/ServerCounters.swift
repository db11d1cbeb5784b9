import NIOConcurrencyHelpers

/// Process-wide counters, exported at `/metrics` in Prometheus text format.
public final class ServerCounters: Sendable {
    private let values = NIOLockedValueBox<[String: Int]>([:])
    /// Gauges kept here (open connections), moved up and down as things happen.
    private let levels = NIOLockedValueBox<[String: Int]>([:])
    /// Gauges read when `/metrics` is asked (a current count or a configured limit).
    private let readers = NIOLockedValueBox<[String: @Sendable () -> Int]>([:])

    public init() {}

    /// `name` may end in a label set, `http_connections_refused{reason="total_limit"}`.
    public func increment(_ name: String, by amount: Int = 1) {
        values.withLockedValue { $0[name, default: 0] += amount }
    }

    public subscript(_ name: String) -> Int { values.withLockedValue { $0[name] ?? 0 } }

    public func snapshot() -> [String: Int] { values.withLockedValue { $0 } }

    /// A value that goes up and down (open connections), exported without `_total`.
    public func adjust(gauge name: String, by amount: Int) {
        levels.withLockedValue { $0[name, default: 0] += amount }
    }

    /// A gauge's current value, either kind.
    public func gauge(_ name: String) -> Int {
        if let read = readers.withLockedValue({ $0[name] }) { return read() }
        return levels.withLockedValue { $0[name] ?? 0 }
    }

    /// A gauge read when `/metrics` is asked, exported as `vboot_NAME` without `_total`.
    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Int) {
        readers.withLockedValue { $0[name] = read }
    }

    /// Prometheus exposition format, one counter per line (`_total` goes before a label set),
    /// then the gauges.
    public func prometheusText() -> String {
        let counters = snapshot().sorted { $0.key < $1.key }.map { key, value in
            let labels = key.firstIndex(of: "{").map { key[$0...] } ?? ""
            return "vboot_\(key.dropLast(labels.count))_total\(labels) \(value)\n"
        }
        var gauges = levels.withLockedValue { $0 }
        for (name, read) in readers.withLockedValue({ $0 }) { gauges[name] = read() }
        return (counters + gauges.sorted { $0.key < $1.key }.map { "vboot_\($0.key) \($0.value)\n" }).joined()
    }
}
