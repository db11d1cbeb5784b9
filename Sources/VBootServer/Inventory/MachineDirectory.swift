import BootPolicy
import DHCPv4
import Synchronization

/// What the DHCP path needs to know about each machine, in memory: the proxy answers within
/// microseconds and cannot wait for a database. Refreshed from the store periodically (other
/// servers on a shared PostgreSQL change it too) and at once on this server's own changes.
final class MachineDirectory: Sendable {
    typealias Entry = MachineBootHint

    private struct Tables {
        var entries: [HardwareAddress: Entry] = [:]
        /// `--dhcp full` reservations.
        var addresses: [HardwareAddress: IPv4Address] = [:]
    }

    private let tables = Mutex(Tables())

    func entry(for mac: HardwareAddress) -> Entry? { tables.withLock { $0.entries[mac] } }

    func reservations() -> [HardwareAddress: IPv4Address] { tables.withLock { $0.addresses } }

    func replaceAll(with machines: [Machine]) {
        var fresh = Tables()
        for machine in machines {
            fresh.entries[machine.mac] = Entry(machine)
            fresh.addresses[machine.mac] = machine.address
        }
        tables.withLock { $0 = fresh }
    }

    func update(_ machine: Machine) {
        tables.withLock {
            $0.entries[machine.mac] = Entry(machine)
            $0.addresses[machine.mac] = machine.address
        }
    }

    func remove(_ mac: HardwareAddress) {
        tables.withLock {
            $0.entries[mac] = nil
            $0.addresses[mac] = nil
        }
    }

    var count: Int { tables.withLock { $0.entries.count } }
}

/// Which MAC uses which IPv4 address, learnt from DHCP requests and script fetches, so TFTP and
/// HTTP events (which see only an address) land on the right machine's timeline.
final class ClientAddresses: Sendable {
    /// Bounded: a flood of spoofed requests cannot grow it without limit.
    static let capacity = 65536
    private let byAddress = Mutex<[IPv4Address: HardwareAddress]>([:])

    func learn(_ address: IPv4Address, is mac: HardwareAddress) {
        guard !address.isAny else { return }
        byAddress.withLock { table in
            if table.count >= Self.capacity, table[address] == nil { table.removeAll(keepingCapacity: true) }
            table[address] = mac
        }
    }

    func mac(for address: IPv4Address?) -> HardwareAddress? {
        guard let address else { return nil }
        return byAddress.withLock { $0[address] }
    }
}
