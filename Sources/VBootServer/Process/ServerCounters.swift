import CoreMetrics
import NIOConcurrencyHelpers
import Synchronization

/// One server's metrics, behind swift-metrics' API: this object is the `MetricsFactory` its
/// counters are made with (explicitly, not the process-wide bootstrap, so servers in one process,
/// as in the tests, keep their own) and the store `/metrics` renders in Prometheus text. A
/// counter is an atomic: counting a packet takes no lock and builds no name.
public final class ServerCounters: MetricsFactory, Sendable {
    /// Every counter made, by exported series (`vboot_x_total{reason="y"}`).
    private let stored = NIOLockedValueBox<[String: StoredCounter]>([:])
    /// The counters without a reason, made up front; read without a lock.
    private let counters: [CounterName: Counter]
    /// Counters with a reason, made on first use.
    private let labelled = NIOLockedValueBox<[String: Counter]>([:])
    private let readers = NIOLockedValueBox<[GaugeName: [@Sendable () -> Int]]>([:])

    public init() {
        let stored = self.stored
        var counters: [CounterName: Counter] = [:]
        for name in CounterName.allCases {
            let series = Self.series(name, reason: nil)
            let handler = StoredCounter(series: series)
            stored.withLockedValue { $0[series] = handler }
            counters[name] = Counter(
                label: series, dimensions: [], handler: handler, factory: NOOPMetricsHandler.instance)
        }
        self.counters = counters
    }

    public func increment(_ name: CounterName, reason: String? = nil, by amount: Int = 1) {
        guard let reason else { return counters[name]!.increment(by: amount) }
        let series = Self.series(name, reason: reason)
        let counter = labelled.withLockedValue { made in
            if let counter = made[series] { return counter }
            let counter = Counter(
                label: "vboot_\(name.rawValue)_total", dimensions: [("reason", reason)], factory: self)
            made[series] = counter
            return counter
        }
        counter.increment(by: amount)
    }

    /// A counter's value (tests, and the log lines that quote one).
    public subscript(_ name: CounterName, reason reason: String? = nil) -> Int {
        Int(stored.withLockedValue { $0[Self.series(name, reason: reason)] }?.value ?? 0)
    }

    /// Registers a part's reading of `name`; `/metrics` shows the sum of the readings.
    public func gauge(_ name: GaugeName, _ read: @escaping @Sendable () -> Int) {
        readers.withLockedValue { $0[name, default: []].append(read) }
    }

    public func gauge(_ name: GaugeName) -> Int {
        readers.withLockedValue { $0[name] ?? [] }.reduce(0) { $0 + $1() }
    }

    /// Prometheus exposition format: the counters that have counted, then the gauges, one
    /// series per line.
    public func prometheusText() -> String {
        let counters = stored.withLockedValue { $0 }.compactMap { series, counter -> (String, Int64)? in
            let value = counter.value
            return value == 0 ? nil : (series, value)
        }.sorted { $0.0 < $1.0 }.map { "\($0.0) \($0.1)\n" }
        let gauges = GaugeName.allCases.compactMap { name -> String? in
            readers.withLockedValue({ $0[name] }) == nil ? nil : "vboot_\(name.rawValue) \(gauge(name))\n"
        }
        return (counters + gauges).joined()
    }

    static func series(_ name: CounterName, reason: String?) -> String {
        "vboot_\(name.rawValue)_total" + (reason.map { "{reason=\"\($0)\"}" } ?? "")
    }

    // MARK: MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let labels = dimensions.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
        let series = labels.isEmpty ? label : "\(label){\(labels)}"
        return stored.withLockedValue { stored in
            if let existing = stored[series] { return existing }
            let counter = StoredCounter(series: series)
            stored[series] = counter
            return counter
        }
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

/// One counter's value.
private final class StoredCounter: CounterHandler, Sendable {
    let series: String
    private let count = Atomic<Int64>(0)

    init(series: String) { self.series = series }

    var value: Int64 { count.load(ordering: .relaxed) }
    func increment(by amount: Int64) { count.add(amount, ordering: .relaxed) }
    func reset() { count.store(0, ordering: .relaxed) }
}
