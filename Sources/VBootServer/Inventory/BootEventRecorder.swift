import BootPolicy
import DHCPv4
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import VBootStore

/// Collects timeline events from the hot paths without blocking them: `record` appends to a
/// bounded in-memory buffer, the service writes batches to the store every `flushInterval` and
/// prunes old events every `pruneInterval`. A store outage drops events (counted), never boots.
final class BootEventRecorder: Service, Sendable {
    /// Events held between two flushes: 8,192 a second at the default interval. A 500-machine
    /// storm makes ~3,000 events in all; a packet flood beyond this is counted, not stored, so
    /// the store never takes the CPU the answers need.
    static let bufferLimit = 2048
    private let pending = NIOLockedValueBox<[BootEvent]>([])
    private let store: any InventoryStore
    private let addresses: ClientAddresses
    private let counters: ServerCounters
    private let logger: Logger
    private let serverName: String
    private let live: LiveSettings
    private let flushInterval: Duration
    private let pruneInterval: Duration
    /// Whether a MAC is in the inventory: only others' events are rate-limited.
    private let isKnown: @Sendable (HardwareAddress) -> Bool
    /// Events of machines not in the inventory, per source and in all (random MACs would
    /// otherwise fill the timeline).
    private let unknownGate: LimitGate
    /// Loaders sent and not heard from since (see `LoaderStartWatch`); checked at each flush.
    private let loaders: NIOLockedValueBox<LoaderStartWatch>

    init(
        store: any InventoryStore, addresses: ClientAddresses, counters: ServerCounters, logger: Logger,
        serverName: String, live: LiveSettings, flushInterval: Duration = .milliseconds(250),
        pruneInterval: Duration = .seconds(600), limits: UnauthenticatedTrafficLimits = .init(),
        loaderTimeout: Int64 = LoaderStartWatch.defaultTimeout,
        isKnown: @escaping @Sendable (HardwareAddress) -> Bool = { _ in false }
    ) {
        loaders = NIOLockedValueBox(LoaderStartWatch(timeout: loaderTimeout))
        self.store = store
        self.addresses = addresses
        self.counters = counters
        self.logger = logger
        self.serverName = serverName
        self.live = live
        self.flushInterval = flushInterval
        self.pruneInterval = pruneInterval
        self.isKnown = isKnown
        unknownGate = LimitGate(
            name: "timeline: events of machines not in the inventory", counter: .timelineUnknownEventsLimited,
            perSource: limits.unknownEventsPerSecondPerSource, global: limits.unknownEventsPerSecond, per: 1_000_000,
            counters: counters, logger: logger)
    }

    /// Never blocks; the MAC is looked up from the address when the caller only knows that.
    /// `source`: who sent it, for the per-source limit on unknown machines (default: `address`;
    /// a DHCP relay's giaddr for relayed messages). `known`: the caller found the machine in the
    /// store itself (the in-memory directory lags a machine another server just added).
    func record(
        _ kind: BootEvent.Kind, _ outcome: BootEvent.Outcome, mac: HardwareAddress? = nil, address: IPv4Address? = nil,
        source: String? = nil, known: Bool = false, summary: @autoclosure () -> String,
        details: @autoclosure () -> [String: String] = [:]
    ) {
        // A loader that asked for its script started, whether or not this event is stored.
        if kind == .script || kind == .callback, let heard = mac ?? addresses.mac(for: address) {
            loaders.withLockedValue { $0.heard(from: heard) }
        }
        // Full: the event is dropped before any of it is built.
        guard pending.withLockedValue({ $0.count < Self.bufferLimit }) else {
            counters.increment(.timelineEventsDropped)
            return
        }
        let now = WallClock.microsecondsNow()
        let mac = mac ?? addresses.mac(for: address)
        if !known, mac.map(isKnown) != true {
            guard unknownGate.admit(source: source ?? address?.description, now: now) else { return }
        }
        let event = BootEvent(
            mac: mac, address: address?.description, at: now, kind: kind,
            outcome: outcome, summary: LogSafe.text(summary(), limit: LogSafe.lineLimit),
            details: details().mapValues { LogSafe.text($0) }, server: serverName)
        append(event)
        if event.mac != nil, kind == .tftp || kind == .asset { loaders.withLockedValue { $0.observe(event) } }
    }

    private func append(_ event: BootEvent) {
        let stored = pending.withLockedValue { buffer in
            guard buffer.count < Self.bufferLimit else { return false }
            buffer.append(event)
            return true
        }
        if !stored { counters.increment(.timelineEventsDropped) }
    }

    /// Loaders silent for too long: a warning each, and a `script` event that failed.
    func checkLoaders(now: Int64 = WallClock.microsecondsNow()) {
        for var event in loaders.withLockedValue({ $0.overdue(now: now) }) {
            logger.warning("boot: \(event.mac.map { "\($0)" } ?? "?"): \(event.summary)")
            counters.increment(.loadersSilent)
            event.server = serverName
            append(event)
        }
    }

    func run() async throws {
        var sincePrune = Duration.zero
        try? await prune()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: flushInterval)
            checkLoaders()
            await flush()
            sincePrune += flushInterval
            if sincePrune >= pruneInterval {
                sincePrune = .zero
                try? await prune()
            }
        }
        await flush()
    }

    /// Writes what is buffered now; tests call it to avoid waiting for the interval.
    func flush() async {
        let batch = pending.withLockedValue { buffer -> [BootEvent] in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.record(batch)
            counters.increment(.timelineEventsRecorded, by: batch.count)
        } catch {
            counters.increment(.timelineEventsDropped, by: batch.count)
            logger.warning("timeline: \(batch.count) events not stored: \(error)")
        }
    }

    private func prune() async throws {
        let retention = live.current.timelineRetention
        let cutoff = WallClock.microsecondsNow() - Int64(retention.days) * 86_400 * 1_000_000
        let removed = try await store.pruneTimeline(perMachine: retention.perMachine, olderThan: cutoff)
        if removed > 0 { logger.debug("timeline: pruned \(removed) events") }
    }
}
