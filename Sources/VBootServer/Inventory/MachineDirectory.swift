import BootPolicy
import DHCPv4
import Synchronization

/// What the DHCP path needs to know about each machine, in memory: the proxy answers within
/// microseconds and cannot wait for a database. Refreshed from the store periodically (other
/// servers on a shared PostgreSQL change it too) and at once on this server's own changes.
final class MachineDirectory: Sendable {
    typealias Entry = MachineBootHint

    private let entries = Mutex<[HardwareAddress: Entry]>([:])

    func entry(for mac: HardwareAddress) -> Entry? { entries.withLock { $0[mac] } }

    func replaceAll(with machines: [Machine]) {
        var fresh: [HardwareAddress: Entry] = [:]
        for machine in machines { fresh[machine.mac] = Entry(machine) }
        entries.withLock { $0 = fresh }
    }

    func update(_ machine: Machine) { entries.withLock { $0[machine.mac] = Entry(machine) } }

    func remove(_ mac: HardwareAddress) { _ = entries.withLock { $0.removeValue(forKey: mac) } }

    var count: Int { entries.withLock { $0.count } }
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
