import BootPolicy
import DHCPv4
import NIOConcurrencyHelpers

/// The machines in memory. The proxy answers within microseconds and cannot wait for a
/// database; with SQLite (this process the only writer) the script path reads it too. Refreshed
/// from the store periodically (other servers on a shared PostgreSQL change it) and at once on
/// this server's own changes.
final class MachineDirectory: Sendable {
    typealias Entry = MachineBootHint

    private struct Tables {
        var machines: [HardwareAddress: Machine] = [:]
        /// What the proxy reads per packet, kept apart so a packet copies two fields, not a machine.
        var hints: [HardwareAddress: Entry] = [:]
        var byUUID: [String: HardwareAddress] = [:]
        var bySerial: [String: HardwareAddress] = [:]
        var byHostname: [String: HardwareAddress] = [:]
        /// `--dhcp full` reservations.
        var addresses: [HardwareAddress: IPv4Address] = [:]
        /// Bumped by every local change: a refresh read from the store before one must not undo it.
        var generation: UInt64 = 0

        mutating func put(_ machine: Machine) {
            remove(machine.mac)
            machines[machine.mac] = machine
            hints[machine.mac] = Entry(machine)
            addresses[machine.mac] = machine.address
            if let uuid = machine.uuid { byUUID[uuid.lowercased()] = machine.mac }
            if let serial = machine.serial { bySerial[serial] = machine.mac }
            if let hostname = machine.hostname { byHostname[hostname.lowercased()] = machine.mac }
        }

        mutating func remove(_ mac: HardwareAddress) {
            guard let old = machines.removeValue(forKey: mac) else { return }
            hints[mac] = nil
            addresses[mac] = nil
            if let uuid = old.uuid { byUUID[uuid.lowercased()] = nil }
            if let serial = old.serial { bySerial[serial] = nil }
            if let hostname = old.hostname { byHostname[hostname.lowercased()] = nil }
        }
    }

    private let tables = NIOLockedValueBox(Tables())

    func entry(for mac: HardwareAddress) -> Entry? { tables.withLockedValue { $0.hints[mac] } }

    /// The machine the selector names, looked up in the store's order (MAC, UUID, serial, hostname).
    func machine(matching selector: MachineSelector) -> Machine? {
        tables.withLockedValue { tables in
            let mac =
                selector.mac.flatMap { tables.machines[$0] == nil ? nil : $0 }
                ?? selector.uuid.flatMap { tables.byUUID[$0] }
                ?? selector.serial.flatMap { tables.bySerial[$0] }
                ?? selector.hostname.flatMap { tables.byHostname[$0] }
            return mac.flatMap { tables.machines[$0] }
        }
    }

    func reservations() -> [HardwareAddress: IPv4Address] { tables.withLockedValue { $0.addresses } }

    var generation: UInt64 { tables.withLockedValue { $0.generation } }

    /// Replaces everything with `machines` as read from the store, unless a local change came
    /// after `generation` was taken (then false: the next refresh will do).
    @discardableResult
    func replaceAll(with machines: [Machine], readAfter generation: UInt64) -> Bool {
        var fresh = Tables()
        for machine in machines { fresh.put(machine) }
        return tables.withLockedValue { tables in
            guard tables.generation == generation else { return false }
            fresh.generation = generation
            tables = fresh
            return true
        }
    }

    /// A machine as this server just stored it. Two changes finishing out of order keep the newer.
    func update(_ machine: Machine) {
        tables.withLockedValue { tables in
            tables.generation += 1
            if let known = tables.machines[machine.mac], known.updatedAt > machine.updatedAt { return }
            tables.put(machine)
        }
    }

    func remove(_ mac: HardwareAddress) {
        tables.withLockedValue { tables in
            tables.generation += 1
            tables.remove(mac)
        }
    }

    var count: Int { tables.withLockedValue { $0.machines.count } }

    /// Machines without a profile: what registration of unknown machines adds.
    var unassignedCount: Int { tables.withLockedValue { $0.machines.values.count { $0.profile == nil } } }
}

/// Which MAC uses which IPv4 address, learnt from DHCP requests and script fetches, so TFTP and
/// HTTP events (which see only an address) land on the right machine's timeline.
final class ClientAddresses: Sendable {
    /// Bounded: a flood of spoofed requests cannot grow it without limit.
    static let capacity = 65536
    private let byAddress = NIOLockedValueBox<[IPv4Address: HardwareAddress]>([:])

    func learn(_ address: IPv4Address, is mac: HardwareAddress) {
        guard !address.isAny else { return }
        byAddress.withLockedValue { table in
            if table.count >= Self.capacity, table[address] == nil { table.removeAll(keepingCapacity: true) }
            table[address] = mac
        }
    }

    func mac(for address: IPv4Address?) -> HardwareAddress? {
        guard let address else { return nil }
        return byAddress.withLockedValue { $0[address] }
    }
}
