import Logging
import NIOConcurrencyHelpers

/// Token buckets per source and in all, for traffic vboot does not have to keep: what is over
/// the limit is counted and logged once per `logWindow`, never per packet.
final class LimitGate: Sendable {
    struct Bucket {
        var tokens: Double
        var at: Int64
    }

    private struct Buckets {
        var global: Bucket
        var sources: [String: Bucket] = [:]
        var lastLog: Int64 = .min / 2
        var refusedSinceLog = 0
    }

    let name: String
    let perSource: Double
    let global: Double
    /// Tokens per microsecond are `rate / per`.
    let per: Double
    private let counter: CounterName
    private let counters: ServerCounters
    private let logger: Logger
    private let state: NIOLockedValueBox<Buckets>
    static let logWindow: Int64 = 60_000_000
    /// Sources remembered; past it the table starts over (a flood of sources gets the global bucket).
    static let sourceLimit = 65_536

    /// `perSource` and `global` are events per `per` microseconds; each bucket holds that many.
    init(
        name: String, counter: CounterName, perSource: Double, global: Double, per: Int64, counters: ServerCounters,
        logger: Logger
    ) {
        self.name = name
        self.counter = counter
        self.perSource = perSource
        self.global = global
        self.per = Double(per)
        self.counters = counters
        self.logger = logger
        state = NIOLockedValueBox(Buckets(global: Bucket(tokens: global, at: 0)))
    }

    /// Takes one token from `source`'s bucket and the global one; false = over the limit.
    func admit(source: String?, now: Int64) -> Bool {
        let (admitted, log) = state.withLockedValue { buckets -> (Bool, Int?) in
            func refill(_ bucket: inout Bucket, rate: Double) {
                if bucket.at == 0 { bucket.at = now }
                bucket.tokens = min(rate, bucket.tokens + Double(max(0, now - bucket.at)) * rate / per)
                bucket.at = now
            }
            refill(&buckets.global, rate: global)
            var sourceBucket: Bucket? = nil
            if let source {
                if buckets.sources.count >= Self.sourceLimit && buckets.sources[source] == nil {
                    buckets.sources.removeAll(keepingCapacity: true)
                }
                var bucket = buckets.sources[source] ?? Bucket(tokens: perSource, at: now)
                refill(&bucket, rate: perSource)
                sourceBucket = bucket
            }
            let admitted = buckets.global.tokens >= 1 && (sourceBucket?.tokens ?? 1) >= 1
            if admitted {
                buckets.global.tokens -= 1
                sourceBucket?.tokens -= 1
            }
            if let source, let sourceBucket { buckets.sources[source] = sourceBucket }
            guard !admitted else { return (true, nil) }
            buckets.refusedSinceLog += 1
            guard now - buckets.lastLog >= Self.logWindow else { return (false, nil) }
            buckets.lastLog = now
            defer { buckets.refusedSinceLog = 0 }
            return (false, buckets.refusedSinceLog)
        }
        if !admitted {
            counters.increment(counter)
            if let log {
                logger.warning(
                    "\(name): over the limit (\(perSource) per source, \(global) in all, per \(Int64(per) / 1_000_000) s); \(log) not kept since the last notice, counted as \(counter.rawValue)"
                )
            }
        }
        return admitted
    }
}

/// Logs a refusal once per window, with how many there were since the last line.
final class OncePerWindow: Sendable {
    private let state = NIOLockedValueBox<(last: Int64, count: Int)>((.min / 2, 0))
    let window: Int64

    init(window: Int64 = LimitGate.logWindow) { self.window = window }

    /// The number of refusals to report now (this one included), or nil to stay quiet.
    func hit(now: Int64) -> Int? {
        state.withLockedValue { state in
            state.count += 1
            guard now - state.last >= window else { return nil }
            state.last = now
            defer { state.count = 0 }
            return state.count
        }
    }
}
