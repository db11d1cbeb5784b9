import BootPolicy
import DHCPv4
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VBootAPI
import VBootStore

/// The live timeline (`GET /api/v1/events`): while anyone listens, reads the events stored
/// since the subscribers' cursors every `interval` (one read per distinct cursor, `FeedReadPlan`:
/// streams that are caught up share one), and offers each event, encoded once, to the
/// subscribers it concerns. The store is the only source, so a stream
/// sees what every server sharing the inventory recorded, a browser that reconnects with
/// `Last-Event-ID` misses nothing, and a slow one costs a bounded queue, not a backlog: the
/// feed reads for it again once it has room. Nobody listening: no reads at all.
final class TimelineFeed: Sendable {
    enum Refusal: Error, Equatable {
        case tooMany(Int)
        case tooManyFromClient(Int)
        case tooManyWithoutToken(Int)

        /// What the API answers (a 503) with.
        var reason: String {
            switch self {
            case .tooMany(let limit): "\(limit) live event streams are open already; close one"
            case .tooManyFromClient(let limit): "\(limit) live event streams are open from this address already"
            case .tooManyWithoutToken(let limit):
                "\(limit) live event streams without the token are open already; use the token"
            }
        }
    }

    let limits: EventStreamLimits
    private let store: any InventoryStore
    private let counters: ServerCounters
    private let logger: Logger
    private let subscribers = NIOLockedValueBox<[ObjectIdentifier: FeedSubscriber]>([:])
    /// Store failures are logged once until the next success, not four times a second.
    private let failing = NIOLockedValueBox(false)
    private let rounds = NIOLockedValueBox(0)
    /// On a store other servers write too (PostgreSQL), ids are handed out at insert but become
    /// visible at commit, so a lower id can appear after a higher one was read, and a cursor past
    /// it would never send it. Events are sent only once they are this old (µs): by then every
    /// transaction that took a lower id has committed (vboot's are milliseconds long; the
    /// servers' clocks are assumed to agree within a second, as NTP keeps them). nil: this
    /// process is the store's only writer and its flushes are serial, so ids appear in order.
    let holdBack: Int64?

    init(
        store: any InventoryStore, counters: ServerCounters, logger: Logger, limits: EventStreamLimits = .init(),
        holdBack: Int64?? = nil
    ) {
        self.holdBack = holdBack ?? (store.isShared ? limits.sharedStoreHoldBack : nil)
        self.store = store
        self.counters = counters
        self.logger = logger
        self.limits = limits
        counters.gauge(.eventStreamsOpen) { [subscribers] in subscribers.withLockedValue { $0.count } }
        counters.gauge(.eventStreamsQueuedBytes) { [subscribers] in
            subscribers.withLockedValue { $0.values.reduce(0) { $0 + $1.queuedBytes } }
        }
    }

    var count: Int { subscribers.withLockedValue { $0.count } }

    /// A new stream, starting after event `after` (nil: after the newest stored when the feed
    /// next reads). `withToken`: opened with the API token (not only from a read network).
    /// `first`: a frame the stream starts with (a reset).
    /// `onStall` closes its connection.
    func subscribe(
        mac: HardwareAddress?, client: String, after: Int64?, withToken: Bool = true, first: ByteBuffer? = nil,
        onStall: @escaping @Sendable () -> Void = {}
    ) throws(Refusal) -> FeedSubscriber {
        let subscriber = FeedSubscriber(
            mac: mac, client: client, after: after, withToken: withToken, byteLimit: limits.queueBytes, now: .now(),
            onStall: onStall)
        // Queued before the feed can see the stream: nothing goes out ahead of it.
        if let first { subscriber.offer(first, id: nil, now: .now()) }
        let refusal = subscribers.withLockedValue { table -> Refusal? in
            guard table.count < limits.subscribers else { return .tooMany(limits.subscribers) }
            guard table.values.filter({ $0.client == client }).count < limits.subscribersPerClient else {
                return .tooManyFromClient(limits.subscribersPerClient)
            }
            guard withToken || table.values.filter({ !$0.withToken }).count < limits.subscribersWithoutToken else {
                return .tooManyWithoutToken(limits.subscribersWithoutToken)
            }
            table[ObjectIdentifier(subscriber)] = subscriber
            return nil
        }
        if let refusal {
            counters.increment(.eventStreamsRefused)
            throw refusal
        }
        counters.increment(.eventStreamsOpened)
        return subscriber
    }

    func unsubscribe(_ subscriber: FeedSubscriber) {
        subscriber.finish()
        subscribers.withLockedValue { $0[ObjectIdentifier(subscriber)] = nil }
    }

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: limits.interval)
            // A full batch means more is waiting: read on at once.
            while await poll(), !Task.isCancelled {}
        }
        for subscriber in subscribers.withLockedValue({ Array($0.values) }) { subscriber.finish() }
    }

    /// One round: stalled streams ended, the reads `FeedReadPlan` picks for the streams with room,
    /// keepalives. True when a read was a full batch someone took whole (read on at once). Tests
    /// call it instead of `run`.
    @discardableResult
    func poll(now: NIODeadline = .now(), wallNow: Int64 = WallClock.microsecondsNow()) async -> Bool {
        // Ended streams leave the table here too, in case their response never ran to its end.
        let all = subscribers.withLockedValue { table in
            table = table.filter { !$0.value.isFinished }
            return Array(table.values)
        }
        guard !all.isEmpty else { return false }
        var ready: [FeedSubscriber] = []
        for subscriber in all {
            if subscriber.endIfStalled(now: now, stalled: limits.stalled) {
                counters.increment(.eventStreamsStalled)
                logger.info("events: closed a stream from \(subscriber.client) that read nothing for \(limits.stalled)")
                continue
            }
            if subscriber.hasRoom { ready.append(subscriber) }
        }
        let full: Bool
        do {
            full = try await deliver(to: ready, now: now, wallNow: wallNow)
            if failing.withLockedValue({ Self.swap(&$0, false) }) {
                logger.info("events: the timeline is readable again")
            }
        } catch {
            if !failing.withLockedValue({ Self.swap(&$0, true) }) {
                logger.warning("events: cannot read the timeline: \(error)")
            }
            full = false
        }
        for subscriber in all where subscriber.isQuiet(now: now, interval: limits.keepalive) {
            subscriber.offer(ServerSentEvent.keepalive, id: nil, now: now)
        }
        return full
    }

    private func deliver(to ready: [FeedSubscriber], now: NIODeadline, wallNow: Int64) async throws -> Bool {
        guard !ready.isEmpty else { return false }
        // New streams start after the newest event stored now.
        if ready.contains(where: { $0.cursor == nil }) {
            let newest = try await newestID()
            for subscriber in ready where subscriber.cursor == nil { subscriber.advance(to: newest) }
        }
        let round = rounds.withLockedValue { round in
            defer { round &+= 1 }
            return round
        }
        let plan = FeedReadPlan.cursors(ready.compactMap(\.cursor), round: round, budget: limits.readsPerRound)
        // Only events older than this are sent (see `holdBack`).
        let visibleBefore = holdBack.map { wallNow - $0 }
        var frames: [Int64: ByteBuffer] = [:]
        var more = false
        // Grouped before any is served: a stream a read moves onto another group's cursor is
        // not served twice in one round.
        let groups = Dictionary(grouping: ready) { $0.cursor ?? 0 }
        for from in plan {
            let events = try await store.timeline(after: from, limit: limits.batch)
            let readers = groups[from] ?? []
            var tookAll = false
            for subscriber in readers {
                for event in events {
                    if let visibleBefore, event.at > visibleBefore { break }
                    guard subscriber.mac == nil || subscriber.mac == event.mac else {
                        subscriber.advance(to: event.id)
                        continue
                    }
                    let frame = frames[event.id] ?? Self.frame(event)
                    frames[event.id] = frame
                    guard subscriber.offer(frame, id: event.id, now: now) else { break }
                }
                if let last = events.last, subscriber.cursor == last.id, !subscriber.isFinished { tookAll = true }
            }
            // More is waiting only if someone took a whole batch; a queue that filled up waits
            // for its reader, not for another read of the same rows.
            if events.count == limits.batch, tookAll { more = true }
        }
        return more
    }

    /// The newest event's id (0 with none): where a stream without a `Last-Event-ID` starts.
    func newestID() async throws -> Int64 {
        try await store.timeline(mac: nil, limit: 1, before: nil).first?.id ?? 0
    }

    /// Sets `flag`, returns what it was.
    private static func swap(_ flag: inout Bool, _ value: Bool) -> Bool {
        defer { flag = value }
        return flag
    }

    /// `event: timeline`, the event's id, its JSON (the same as `GET /timeline` shows it).
    static func frame(_ event: BootEvent) -> ByteBuffer {
        let json = APIContract.encode(InventoryReadRoutes.event(event))
        return ServerSentEvent.frame(event: "timeline", id: event.id, data: String(decoding: json, as: UTF8.self))
    }
}
