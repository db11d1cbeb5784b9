import BootPolicy
import DHCPv4
import Foundation
import Logging
import ServiceLifecycle
import VBootStore

/// The running inventory: the store, plus the in-memory views the hot paths read and the
/// timeline recorder they write to. Every machine change made through this server goes through
/// here so the DHCP directory follows at once.
public final class Inventory: Service, Sendable {
    public let store: any InventoryStore
    let directory: MachineDirectory
    let addresses = ClientAddresses()
    let recorder: BootEventRecorder
    /// The live timeline for `GET /api/v1/events`.
    let feed: TimelineFeed
    /// `--unknown-machines register`: new records per minute, per source and in all.
    let registrations: LimitGate
    let unassignedFull = OncePerWindow()
    let counters: ServerCounters
    let profiles: ProfileLibrary
    /// The settings as started; `live` holds those a config reload may change.
    let configuration: ServerConfiguration
    /// Each rendered boot script's `boot_token`, checked where a boot presents it (NBD).
    let bootTokens: BootTokens
    let live: LiveSettings
    let logger: Logger

    /// Opens and migrates the configured store.
    public static func open(
        configuration: ServerConfiguration, counters: ServerCounters, logger: Logger
    ) async throws -> Inventory {
        let location =
            configuration.database
            ?? configuration.dataDirectory.map { .sqlite(path: $0 + "/" + SQLiteInventoryStore.fileName) }
            ?? .sqlite(path: ":memory:")
        let store: any InventoryStore
        switch location {
        case .sqlite(let path): store = try await SQLiteInventoryStore.open(path: path, logger: logger)
        case .postgres(let url): store = try await PostgresInventoryStore.open(url: url, logger: logger)
        }
        let upgrade: SchemaUpgrade
        do {
            upgrade = try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        logger.info("inventory: \(location), \(upgrade)")
        let tokens: BootTokens
        do {
            tokens =
                try configuration.dataDirectory.map { try BootTokens.loadOrCreate(dataDirectory: $0, logger: logger) }
                ?? .ephemeral()
        } catch {
            try? await store.close()
            throw error
        }
        let inventory = Inventory(
            store: store, configuration: configuration, counters: counters, logger: logger, bootTokens: tokens)
        try await inventory.refresh()
        return inventory
    }

    init(
        store: any InventoryStore, configuration: ServerConfiguration, counters: ServerCounters, logger: Logger,
        bootTokens: BootTokens = .ephemeral()
    ) {
        self.store = store
        self.bootTokens = bootTokens
        self.configuration = configuration
        live = LiveSettings(configuration)
        self.logger = logger
        profiles = ProfileLibrary(directory: configuration.bootScriptsDirectory + "/profiles")
        let directory = MachineDirectory()
        self.directory = directory
        self.counters = counters
        let limits = configuration.unauthenticatedLimits
        registrations = LimitGate(
            name: "inventory: registrations of unknown machines", counter: .registrationsLimited,
            perSource: limits.registrationsPerMinutePerSource, global: limits.registrationsPerMinute, per: 60_000_000,
            counters: counters, logger: logger)
        recorder = BootEventRecorder(
            store: store, addresses: addresses, counters: counters, logger: logger,
            serverName: configuration.serverName, live: live, limits: configuration.unauthenticatedLimits,
            isKnown: { directory.entry(for: $0) != nil })
        feed = TimelineFeed(
            store: store, counters: counters, logger: logger, limits: configuration.eventStreamLimits)
    }

    /// Records timeline events and keeps the directory fresh until shutdown, then closes the store.
    public func run() async throws {
        let interval = configuration.directoryRefreshInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.recorder.run() }
            group.addTask { await cancelWhenGracefulShutdown { await self.feed.run() } }
            group.addTask {
                // Cancelled at shutdown, not after its next sleep: a stop must not wait for it.
                await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        guard !Task.isCancelled else { return }
                        do { try await self.refresh() } catch {
                            self.logger.warning("inventory: cannot refresh the machine directory: \(error)")
                        }
                    }
                }
            }
            await group.waitForAll()
        }
        try? await store.close()
    }

    func refresh() async throws {
        let generation = directory.generation
        directory.replaceAll(with: try await store.machines(), readAfter: generation)
    }

    // MARK: Changes

    func insert(_ machine: Machine, by actor: String) async throws {
        try await store.insert(machine)
        directory.update(machine)
        recorder.record(.change, .ok, mac: machine.mac, summary: "added by \(actor)", details: machine.summary)
    }

    /// Applies `change` atomically; nil when there is no such machine. A change that changes
    /// nothing writes nothing and records no event.
    @discardableResult
    func update(
        mac: HardwareAddress, by actor: String, _ change: @escaping @Sendable (inout Machine) throws -> Void
    ) async throws -> (machine: Machine, changed: Bool)? {
        let outcome = try await store.update(mac: mac) { machine -> (Machine?, (Machine, Bool)) in
            var changed = machine
            try change(&changed)
            guard changed != machine else { return (nil, (machine, false)) }
            // Stamped here, so the caller gets back exactly what is stored.
            changed.updatedAt = max(WallClock.microsecondsNow(), machine.updatedAt + 1)
            return (changed, (changed, true))
        }
        if let (updated, changed) = outcome, changed {
            directory.update(updated)
            recorder.record(.change, .ok, mac: mac, summary: "changed by \(actor)", details: updated.summary)
        }
        return outcome.map { (machine: $0.0, changed: $0.1) }
    }

    func delete(mac: HardwareAddress, by actor: String) async throws -> Bool {
        let removed = try await store.delete(mac: mac)
        if removed {
            directory.remove(mac)
            recorder.record(.change, .ok, mac: mac, summary: "removed by \(actor)")
        }
        return removed
    }
}

extension Machine {
    /// The fields worth showing in a change event.
    var summary: [String: String] {
        var facts = ["next_boot": nextBoot.rawValue]
        if let profile { facts["profile"] = profile }
        if let hostname { facts["hostname"] = hostname }
        if nextBoot == .once { facts["once"] = onceCompletion.description }
        return facts
    }
}
