import BootPolicy
import DHCPv4
import Logging
import NIOConcurrencyHelpers
import NIOCore
import VBootStore

/// `--dhcp full`'s lease service: the one writer of this process's leases. The DHCP listener
/// queues each message (`LeaseQueue`: those that finish an exchange first); one consumer runs
/// `LeasePlanner`'s plan against the lease table and sends the reply. The store's conditional
/// claim makes each allocation atomic, across servers sharing a database.
final class LeaseService: Sendable {
    let pool: AddressPool
    let inventory: Inventory
    let counters: ServerCounters
    let logger: Logger
    /// The last address this process offered each client: the only offer it may withdraw.
    let offers = NIOLockedValueBox<[HardwareAddress: IPv4Address]>([:])
    /// Where the next free-address scan starts (offset in the range): next fit, so a nearly full
    /// pool is not read from its first address for every DISCOVER.
    private let cursor = NIOLockedValueBox<UInt32>(0)
    /// Addresses looked up per store read while scanning for a free one.
    static let scanWindow = 64
    private let refusals = OncePerWindow()
    private let drops = OncePerWindow()

    /// A message waiting for the store, and what its reply needs.
    struct Job: Sendable {
        var request: DHCPMessage
        /// The datagram's IPv4 source address.
        var source: IPv4Address
        var server: IPv4Address
        var boot: DHCPMessage?
        var bootSummary: String
        var channel: any Channel
    }

    private let pending: NIOLockedValueBox<LeaseQueue<Job>>
    /// Wakes the consumer when `pending` has work; one signal stands for any number of jobs.
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(pool: AddressPool, inventory: Inventory, counters: ServerCounters, logger: Logger, queueLimit: Int = 1024) {
        self.pool = pool
        self.inventory = inventory
        self.counters = counters
        self.logger = logger
        pending = NIOLockedValueBox(LeaseQueue(limit: queueLimit))
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.queueLimit = queueLimit
    }

    let queueLimit: Int

    /// Called on the event loop; never blocks. False when the queue is full (the message is
    /// dropped and counted: the client retransmits). A message that finishes an exchange takes
    /// the place of a waiting DISCOVER, which is dropped and counted instead.
    @discardableResult
    func submit(_ job: Job) -> Bool {
        let admission = pending.withLockedValue {
            $0.enqueue(job, startsExchange: job.request.messageType == .discover)
        }
        if admission != .queued { countDrop() }
        guard admission != .dropped else { return false }
        wake.yield()
        return true
    }

    private func countDrop() {
        counters.increment(.dhcpQueueDropped)
        if let count = drops.hit(now: WallClock.microsecondsNow()) {
            logger.warning(
                "dhcp: \(count) messages dropped, \(queueLimit) already wait for the store (--dhcp-queue-limit); counted as dhcp_queue_dropped"
            )
        }
    }

    /// The one consumer of the queue, for the life of the DHCP service.
    func run() async {
        for await _ in wakeups {
            while let job = pending.withLockedValue({ $0.dequeue() }) {
                await serve(job)
            }
        }
    }

    func finish() { wake.finish() }

    private func serve(_ job: Job) async {
        let request = job.request
        let mac = request.clientHardwareAddress
        do {
            let outcome = try await handle(request, source: job.source, server: job.server, boot: job.boot)
            guard let reply = outcome.reply else {
                counters.increment(.dhcpSilent)
                logger.info("dhcp: \(outcome.summary)")
                return
            }
            let envelope = reply.datagram(
                to: ReplyDestination.forServerReply(reply, to: request), allocator: job.channel.allocator)
            job.channel.writeAndFlush(envelope, promise: nil)
            counters.increment(.dhcpRepliesSent)
            let bootSummary = job.boot != nil && reply.messageType != .nak ? "; \(job.bootSummary)" : ""
            inventory.recorder.record(
                .dhcp, reply.messageType == .nak ? .refused : .ok, mac: mac,
                source: DHCPExchange.sourceName(of: request, sentFrom: job.source),
                summary: outcome.summary + bootSummary,
                details: ["address": reply.yiaddr.isAny ? "" : reply.yiaddr.description, "mode": "full"])
            logger.info("dhcp: \(outcome.summary)\(bootSummary)")
        } catch {
            counters.increment(.dhcpStoreErrors)
            logger.error("dhcp: \(mac): no answer, the store failed: \(error)")
        }
    }

    struct Outcome {
        var reply: DHCPMessage?
        var summary: String
    }

    /// `boot`: the proxy answer for a network-boot client (nil for plain DHCP clients and
    /// machines on hold), merged into OFFER and ACK. `source`: the datagram's source address.
    func handle(
        _ request: DHCPMessage, source: IPv4Address = .any, server: IPv4Address, boot: DHCPMessage?
    ) async throws -> Outcome {
        let now = WallClock.microsecondsNow()
        let mac = request.clientHardwareAddress
        let store = inventory.store
        let reservations = inventory.directory.reservations()
        let type = request.messageType.map { "\($0)" } ?? "?"
        let hostname = request.option(.hostName).map { String(decoding: $0, as: UTF8.self) }
        let clientID = Lease.clientID(of: request)
        func reply(_ kind: DHCPMessageType, _ address: IPv4Address?, message: String? = nil) -> DHCPMessage {
            DHCPServerReply.make(
                kind, to: request, address: address, pool: pool, server: server,
                boot: kind == .nak ? nil : boot, message: message)
        }
        let named = [request.requestedIPAddress, request.ciaddr.isAny ? nil : request.ciaddr, reservations[mac]]
            .compactMap { $0 }
        /// The rows the planner needs for `named` plus `window`, and those of the MACs holding
        /// offers there (an offer to a client bound elsewhere is free).
        func plan(scanning window: [IPv4Address]) async throws -> LeasePlanner.Plan {
            var rows = try await store.leases(macs: [mac], addresses: named + window)
            let offerers = Set(rows.filter { $0.state == .offered && $0.mac != mac }.compactMap(\.mac))
            if !offerers.isEmpty { rows += try await store.leases(macs: Array(offerers), addresses: []) }
            let state = LeasePlanner.State(
                server: server, pool: pool, leases: rows, reservations: reservations, now: now, scan: window)
            return LeasePlanner.plan(request, source: source, state: state)
        }

        var planned: LeasePlanner.Plan
        if request.messageType == .discover, reservations[mac] == nil {
            // Free addresses a window at a time from the cursor, until one is found or the range
            // is done; the previous and requested addresses come first in every window's plan.
            let size = UInt32(pool.size)
            let start = cursor.withLockedValue { $0 } % size
            var scanned: UInt32 = 0
            repeat {
                let count = min(UInt32(Self.scanWindow), size - scanned)
                let window = (0..<count).map {
                    IPv4Address(rawValue: pool.first.rawValue + (start + scanned + $0) % size)
                }
                scanned += count
                planned = try await plan(scanning: window)
            } while scanned < size && { if case .ignore = planned { true } else { false } }()
        } else {
            planned = try await plan(scanning: [])
        }

        switch planned {
        case .offer(let candidates):
            for address in candidates {
                let lease = Lease(
                    address: address, mac: mac, state: .offered,
                    expiresAt: now + microseconds(seconds: pool.offerSeconds),
                    hostname: hostname, server: inventory.configuration.serverName, updatedAt: now, clientID: clientID)
                if try await store.claim(lease, now: now) {
                    offers.withLockedValue { table in
                        if table.count >= 65536 { table.removeAll(keepingCapacity: true) }
                        table[mac] = address
                    }
                    if pool.isDynamic(address) {
                        cursor.withLockedValue { $0 = address.rawValue - pool.first.rawValue }
                    }
                    return Outcome(reply: reply(.offer, address), summary: "\(mac) \(type) → OFFER \(address)")
                }
                counters.increment(.dhcpClaimsLost)
            }
            return Outcome(reply: nil, summary: "\(mac) \(type): every candidate was taken meanwhile")
        case .acknowledge(let address):
            let lease = Lease(
                address: address, mac: mac, state: .bound, expiresAt: now + microseconds(seconds: pool.leaseSeconds),
                hostname: hostname, server: inventory.configuration.serverName, updatedAt: now, clientID: clientID)
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
            if let offered = offers.withLockedValue({ $0.removeValue(forKey: mac) }) {
                try await store.dropLease(address: offered, mac: mac, state: .offered)
            }
            return Outcome(reply: nil, summary: "\(mac) chose another server; offer withdrawn")
        case .release(let address):
            _ = try await store.updateLease(address: address, mac: mac, state: .released, expiresAt: now, now: now)
            return Outcome(reply: nil, summary: "\(mac) released \(address)")
        case .decline(let address):
            _ = try await store.updateLease(
                address: address, mac: mac, state: .declined,
                expiresAt: now + microseconds(seconds: pool.declineQuarantineSeconds),
                now: now)
            logger.warning(
                "dhcp: \(mac) declined \(address): something else uses it; quarantined for \(pool.declineQuarantineSeconds) s"
            )
            return Outcome(reply: nil, summary: "\(mac) declined \(address) (quarantined)")
        case .distrust(let reason):
            let counter: CounterName = request.messageType == .release ? .dhcpReleaseRefused : .dhcpDeclineRefused
            counters.increment(counter)
            if let count = refusals.hit(now: now) {
                logger.warning(
                    "dhcp: ignored \(count) RELEASE/DECLINE not shown to come from the lease's holder (spoofed?), e.g. \(reason); counted as dhcp_release_refused / dhcp_decline_refused"
                )
            }
            return Outcome(reply: nil, summary: "\(mac) \(type) ignored: \(reason)")
        case .inform:
            return Outcome(reply: reply(.ack, nil), summary: "\(mac) INFORM → ACK")
        case .ignore(let reason):
            return Outcome(reply: nil, summary: "\(mac) \(type): \(reason)")
        }
    }

    /// Lease times are configured in seconds; the lease table keeps wall-clock microseconds.
    private func microseconds(seconds: UInt32) -> Int64 { Int64(seconds) * 1_000_000 }
}
