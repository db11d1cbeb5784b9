import BootPolicy
import DHCPv4

/// Where machines, their timelines and (in full DHCP mode) leases live. One protocol, two
/// backends: SQLite in the data directory, PostgreSQL shared by several servers. Backends are
/// storage only; every decision is a pure function from BootPolicy run inside `update`.
public protocol InventoryStore: AnyObject, Sendable {
    /// Applies pending schema migrations; safe when several servers start at once.
    @discardableResult func migrate() async throws -> SchemaUpgrade
    func close() async throws
    /// True when other servers may change the same inventory (PostgreSQL); false when this
    /// process is its only writer (SQLite), so what it last wrote is what is stored.
    var isShared: Bool { get }

    func machine(_ selector: MachineSelector) async throws -> Machine?
    func machines() async throws -> [Machine]
    /// Inserts; throws `StoreError.exists` when the MAC, UUID or serial is taken.
    func insert(_ machine: Machine) async throws
    /// Deletes by MAC; false when there was none.
    func delete(mac: HardwareAddress) async throws -> Bool

    /// Reads the machine with a row lock, passes it to `body`, writes back what `body` returns
    /// (nil = no change), all in one transaction: two servers never both see the old state.
    /// The written machine is stored as given, `updatedAt` included.
    func update<Result: Sendable>(
        mac: HardwareAddress, _ body: @Sendable (Machine) throws -> (Machine?, Result)
    ) async throws -> Result?

    func record(_ events: [BootEvent]) async throws
    /// Newest first.
    func timeline(mac: HardwareAddress?, limit: Int, before: Int64?) async throws -> [BootEvent]
    /// Every machine's events with an id above `after`, oldest first: what a live feed has not
    /// sent yet.
    func timeline(after: Int64, limit: Int) async throws -> [BootEvent]
    /// Each MAC's newest boot event (changes to its record left out): where its boot stands.
    func latestEvents() async throws -> [BootEvent]
    /// Keeps at most `perMachine` events per MAC and none older than `olderThan`; returns how many went.
    func pruneTimeline(perMachine: Int, olderThan: Int64) async throws -> Int

    func leases() async throws -> [Lease]
    /// The rows held by any of `macs` or at any of `addresses` (by index: one DHCP message's share).
    func leases(macs: [HardwareAddress], addresses: [IPv4Address]) async throws -> [Lease]
    /// Writes `lease` unless its address is held by another MAC (or quarantined) at `now`; a
    /// binding claim also drops the MAC's other leases, in the same transaction. False = taken.
    func claim(_ lease: Lease, now: Int64) async throws -> Bool
    /// Sets the state and expiry of `address` if `mac` holds it; false otherwise.
    func updateLease(
        address: IPv4Address, mac: HardwareAddress, state: Lease.State, expiresAt: Int64, now: Int64
    ) async throws -> Bool
    /// Removes the row if `mac` holds `address` in `state` (an offer the client turned down).
    func dropLease(address: IPv4Address, mac: HardwareAddress, state: Lease.State) async throws
}

public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    case exists(String)
    case corrupt(String)
    case unavailable(String)
    case migration(version: Int, reason: String)

    public var description: String {
        switch self {
        case .exists(let what): "already exists: \(what)"
        case .corrupt(let what): "stored data cannot be read: \(what)"
        case .unavailable(let why): "store unavailable: \(why)"
        case .migration(let version, let reason): "schema migration \(version) failed: \(reason)"
        }
    }
}
