import CoreMetrics
import NIOConcurrencyHelpers

/// One server's metrics, behind swift-metrics' API: this object is the `MetricsFactory` its
/// counters are made with (explicitly, not the process-wide bootstrap, so servers in one process,
/// as in the tests, keep their own) and the store `/metrics` renders in Prometheus text.
public final class ServerCounters: MetricsFactory, Sendable {
    /// Counter values by exported series (`vboot_x_total{reason="y"}`).
    private let values = NIOLockedValueBox<[String: Int64]>([:])
    /// swift-metrics counters by name and reason, made once each.
    private let counters = NIOLockedValueBox<[String: Counter]>([:])
    private let readers = NIOLockedValueBox<[GaugeName: [@Sendable () -> Int]]>([:])

    public init() {}

    public func increment(_ name: CounterName, reason: String? = nil, by amount: Int = 1) {
        counter(name, reason: reason).increment(by: amount)
    }

    /// A counter's value (tests, and the log lines that quote one).
    public subscript(_ name: CounterName, reason reason: String? = nil) -> Int {
        Int(values.withLockedValue { $0[Self.series(name, reason: reason)] ?? 0 })
    }

    /// Registers a part's reading of `name`; `/metrics` shows the sum of the readings.
    public func gauge(_ name: GaugeName, _ read: @escaping @Sendable () -> Int) {
        readers.withLockedValue { $0[name, default: []].append(read) }
    }

    public func gauge(_ name: GaugeName) -> Int {
        readers.withLockedValue { $0[name] ?? [] }.reduce(0) { $0 + $1() }
    }

    /// Prometheus exposition format: the counters, then the gauges, one series per line.
    public func prometheusText() -> String {
        let counters = values.withLockedValue { $0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }
        let gauges = GaugeName.allCases.compactMap { name -> String? in
            readers.withLockedValue({ $0[name] }) == nil ? nil : "vboot_\(name.rawValue) \(gauge(name))\n"
        }
        return (counters + gauges).joined()
    }

    private func counter(_ name: CounterName, reason: String?) -> Counter {
        let series = Self.series(name, reason: reason)
        return counters.withLockedValue { made in
            if let counter = made[series] { return counter }
            let counter = Counter(
                label: "vboot_\(name.rawValue)_total", dimensions: reason.map { [("reason", $0)] } ?? [], factory: self)
            made[series] = counter
            return counter
        }
    }

    static func series(_ name: CounterName, reason: String?) -> String {
        "vboot_\(name.rawValue)_total" + (reason.map { "{reason=\"\($0)\"}" } ?? "")
    }

    // MARK: MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let labels = dimensions.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
        return StoredCounter(series: labels.isEmpty ? label : "\(label){\(labels)}", values: values)
    }

    /// vboot keeps whole numbers only; other kinds of metric are not exported.
    public func makeFloatingPointCounter(
        label: String, dimensions: [(String, String)]
    )
        -> any FloatingPointCounterHandler
    {
        NOOPMetricsHandler.instance
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        NOOPMetricsHandler.instance
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}

/// A counter's value in its server's table.
private final class StoredCounter: CounterHandler, Sendable {
    let series: String
    let values: NIOLockedValueBox<[String: Int64]>

    init(series: String, values: NIOLockedValueBox<[String: Int64]>) {
        self.series = series
        self.values = values
    }

    func increment(by amount: Int64) { values.withLockedValue { $0[series, default: 0] += amount } }
    func reset() { values.withLockedValue { $0[series] = 0 } }
}
