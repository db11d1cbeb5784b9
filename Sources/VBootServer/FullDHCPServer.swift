import BootPolicy
import DHCPv4
import Logging
import Synchronization
import VBootStore

/// `--dhcp full`: runs `LeasePlanner`'s plan against the lease table and builds the reply. The
/// store's conditional claim makes each allocation atomic, across servers sharing a database.
final class FullDHCPServer: Sendable {
    let pool: AddressPool
    let inventory: Inventory
    let counters: ServerCounters
    let logger: Logger
    /// The last address this process offered each client: the only offer it may withdraw.
    let offers = Mutex<[HardwareAddress: IPv4Address]>([:])

    init(pool: AddressPool, inventory: Inventory, counters: ServerCounters, logger: Logger) {
        self.pool = pool
        self.inventory = inventory
        self.counters = counters
        self.logger = logger
    }

    struct Outcome {
        var reply: DHCPMessage?
        var summary: String
    }

    /// `boot`: the proxy answer for a network-boot client (nil for plain DHCP clients and
    /// machines on hold), merged into OFFER and ACK.
    func handle(_ request: DHCPMessage, server: IPv4Address, boot: DHCPMessage?) async throws -> Outcome {
        let now = Clock.now()
        let mac = request.clientHardwareAddress
        let store = inventory.store
        let state = LeasePlanner.State(
            server: server, pool: pool, leases: try await store.leases(),
            reservations: inventory.directory.reservations(), now: now)
        let type = request.messageType.map { "\($0)" } ?? "?"
        let hostname = request.option(.hostName).map { String(decoding: $0, as: UTF8.self) }
        func reply(_ kind: DHCPMessageType, _ address: IPv4Address?, message: String? = nil) -> DHCPMessage {
            DHCPServerReply.make(
                kind, to: request, address: address, pool: pool, server: server,
                boot: kind == .nak ? nil : boot, message: message)
        }

        switch LeasePlanner.plan(request, state: state) {
        case .offer(let candidates):
            for address in candidates {
                let lease = Lease(
                    address: address, mac: mac, state: .offered, expiresAt: now + seconds(pool.offerSeconds),
                    hostname: hostname, server: inventory.configuration.serverName, updatedAt: now)
                if try await store.claim(lease, now: now) {
                    offers.withLock { table in
                        if table.count >= 65536 { table.removeAll(keepingCapacity: true) }
                        table[mac] = address
                    }
                    return Outcome(reply: reply(.offer, address), summary: "\(mac) \(type) → OFFER \(address)")
                }
                counters.increment("dhcp_claims_lost")
            }
            return Outcome(reply: nil, summary: "\(mac) \(type): every candidate was taken meanwhile")
        case .acknowledge(let address):
            let lease = Lease(
                address: address, mac: mac, state: .bound, expiresAt: now + seconds(pool.leaseSeconds),
                hostname: hostname, server: inventory.configuration.serverName, updatedAt: now)
            guard try await store.claim(lease, now: now) else {
                return Outcome(
                    reply: reply(.nak, nil, message: "\(address) is taken"),
                    summary: "\(mac) \(type) \(address) → NAK (taken meanwhile)")
            }
            inventory.addresses.learn(address, is: mac)
            return Outcome(reply: reply(.ack, address), summary: "\(mac) \(type) → ACK \(address)")
        case .refuse(let reason):
            return Outcome(reply: reply(.nak, nil, message: reason), summary: "\(mac) \(type) → NAK: \(reason)")
        case .withdrawOffer:
            if let offered = offers.withLock({ $0.removeValue(forKey: mac) }) {
                try await store.dropLease(address: offered, mac: mac, state: .offered)
            }
            return Outcome(reply: nil, summary: "\(mac) chose another server; offer withdrawn")
        case .release(let address):
            _ = try await store.updateLease(address: address, mac: mac, state: .released, expiresAt: now, now: now)
            return Outcome(reply: nil, summary: "\(mac) released \(address)")
        case .decline(let address):
            _ = try await store.updateLease(
                address: address, mac: mac, state: .declined, expiresAt: now + seconds(pool.declineQuarantineSeconds),
                now: now)
            logger.warning(
                "dhcp: \(mac) declined \(address): something else uses it; quarantined for \(pool.declineQuarantineSeconds) s"
            )
            return Outcome(reply: nil, summary: "\(mac) declined \(address) (quarantined)")
        case .inform:
            return Outcome(reply: reply(.ack, nil), summary: "\(mac) INFORM → ACK")
        case .ignore(let reason):
            return Outcome(reply: nil, summary: "\(mac) \(type): \(reason)")
        }
    }

    private func seconds(_ value: UInt32) -> Int64 { Int64(value) * 1_000_000 }
}
