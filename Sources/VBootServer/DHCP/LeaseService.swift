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
                // boot: no for a client that is not network-booting (a running system renewing its
                // lease), which the console must not take for a boot stuck at DHCP.
                details: [
                    "address": reply.yiaddr.isAny ? "" : reply.yiaddr.description, "mode": "full",
                    "boot": job.boot == nil ? "no" : "yes",
                ])
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

    /// One message against the lease table: what it asked, from where, and when.
    private struct Exchange {
        var request: DHCPMessage
        /// The datagram's source address.
        var source: IPv4Address
        var server: IPv4Address
        /// The proxy answer for a network-boot client, merged into OFFER and ACK.
        var boot: DHCPMessage?
        var now: Int64
        var mac: HardwareAddress { request.clientHardwareAddress }
        var type: String { request.messageType.map { "\($0)" } ?? "?" }
    }

    /// `boot`: the proxy answer for a network-boot client (nil for plain DHCP clients and
    /// machines on hold), merged into OFFER and ACK. `source`: the datagram's source address.
    func handle(
        _ request: DHCPMessage, source: IPv4Address = .any, server: IPv4Address, boot: DHCPMessage?
    ) async throws -> Outcome {
        let exchange = Exchange(
            request: request, source: source, server: server, boot: boot, now: WallClock.microsecondsNow())
        return try await carryOut(try await plan(exchange), exchange)
    }

    /// The planner's decision on the rows it needs. A DISCOVER without a reservation reads free
    /// addresses a window at a time from the cursor, until one is found or the range is done;
    /// the previous and requested addresses come first in every window's plan.
    private func plan(_ exchange: Exchange) async throws -> LeasePlanner.Plan {
        let (request, mac, store) = (exchange.request, exchange.mac, inventory.store)
        let reservations = inventory.directory.reservations()
        let named = [request.requestedIPAddress, request.ciaddr.isAny ? nil : request.ciaddr, reservations[mac]]
            .compactMap { $0 }
        /// The rows the planner needs for `named` plus `window`, and those of the MACs holding
        /// offers there (an offer to a client bound elsewhere is free).
        func plan(scanning window: [IPv4Address]) async throws -> LeasePlanner.Plan {
            var rows = try await store.leases(macs: [mac], addresses: named + window)
            let offerers = Set(rows.filter { $0.state == .offered && $0.mac != mac }.compactMap(\.mac))
            if !offerers.isEmpty { rows += try await store.leases(macs: Array(offerers), addresses: []) }
            let state = LeasePlanner.State(
                server: exchange.server, pool: pool, leases: rows, reservations: reservations, now: exchange.now,
                scan: window)
            return LeasePlanner.plan(request, source: exchange.source, state: state)
        }
        guard request.messageType == .discover, reservations[mac] == nil else { return try await plan(scanning: []) }
        let size = UInt32(pool.size)
        let start = cursor.withLockedValue { $0 } % size
        var scanned: UInt32 = 0
        var planned: LeasePlanner.Plan
        repeat {
            let count = min(UInt32(Self.scanWindow), size - scanned)
            let window = (0..<count).map { IPv4Address(rawValue: pool.first.rawValue + (start + scanned + $0) % size) }
            scanned += count
            planned = try await plan(scanning: window)
        } while scanned < size && { if case .ignore = planned { true } else { false } }()
        return planned
    }

    /// Writes what the plan says to the lease table; the reply (if any) and the line for the log.
    private func carryOut(_ planned: LeasePlanner.Plan, _ exchange: Exchange) async throws -> Outcome {
        let (mac, type, now, store) = (exchange.mac, exchange.type, exchange.now, inventory.store)
        switch planned {
        case .offer(let candidates):
            return try await offer(candidates, exchange)
        case .acknowledge(let address):
            return try await bind(address, exchange)
        case .refuse(let reason):
            return Outcome(reply: reply(.nak, exchange, message: reason), summary: "\(mac) \(type) → NAK: \(reason)")
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
                expiresAt: now + microseconds(seconds: pool.declineQuarantineSeconds), now: now)
            logger.warning(
                "dhcp: \(mac) declined \(address): something else uses it; quarantined for \(pool.declineQuarantineSeconds) s"
            )
            return Outcome(reply: nil, summary: "\(mac) declined \(address) (quarantined)")
        case .distrust(let reason):
            return distrusted(reason, exchange)
        case .inform:
            return Outcome(reply: reply(.ack, exchange), summary: "\(mac) INFORM → ACK")
        case .ignore(let reason):
            return Outcome(reply: nil, summary: "\(mac) \(type): \(reason)")
        }
    }

    /// Claims the first candidate still free (another server may have taken some meanwhile).
    private func offer(_ candidates: [IPv4Address], _ exchange: Exchange) async throws -> Outcome {
        let mac = exchange.mac
        for address in candidates {
            guard
                try await inventory.store.claim(
                    lease(address, .offered, pool.offerSeconds, exchange), now: exchange.now)
            else {
                counters.increment(.dhcpClaimsLost)
                continue
            }
            offers.withLockedValue { table in
                if table.count >= 65536 { table.removeAll(keepingCapacity: true) }
                table[mac] = address
            }
            if pool.isDynamic(address) {
                cursor.withLockedValue { $0 = address.rawValue - pool.first.rawValue }
            }
            return Outcome(
                reply: reply(.offer, exchange, address: address), summary: "\(mac) \(exchange.type) → OFFER \(address)")
        }
        return Outcome(reply: nil, summary: "\(mac) \(exchange.type): every candidate was taken meanwhile")
    }

    private func bind(_ address: IPv4Address, _ exchange: Exchange) async throws -> Outcome {
        let (mac, type) = (exchange.mac, exchange.type)
        guard try await inventory.store.claim(lease(address, .bound, pool.leaseSeconds, exchange), now: exchange.now)
        else {
            return Outcome(
                reply: reply(.nak, exchange, message: "\(address) is taken"),
                summary: "\(mac) \(type) \(address) → NAK (taken meanwhile)")
        }
        inventory.addresses.learn(address, is: mac)
        return Outcome(reply: reply(.ack, exchange, address: address), summary: "\(mac) \(type) → ACK \(address)")
    }

    /// A RELEASE or DECLINE not shown to come from the lease's holder: counted, logged now and then.
    private func distrusted(_ reason: String, _ exchange: Exchange) -> Outcome {
        let counter: CounterName = exchange.request.messageType == .release ? .dhcpReleaseRefused : .dhcpDeclineRefused
        counters.increment(counter)
        if let count = refusals.hit(now: exchange.now) {
            logger.warning(
                "dhcp: ignored \(count) RELEASE/DECLINE not shown to come from the lease's holder (spoofed?), e.g. \(reason); counted as dhcp_release_refused / dhcp_decline_refused"
            )
        }
        return Outcome(reply: nil, summary: "\(exchange.mac) \(exchange.type) ignored: \(reason)")
    }

    private func reply(
        _ kind: DHCPMessageType, _ exchange: Exchange, address: IPv4Address? = nil, message: String? = nil
    ) -> DHCPMessage {
        DHCPServerReply.make(
            kind, to: exchange.request, address: address, pool: pool, server: exchange.server,
            boot: kind == .nak ? nil : exchange.boot, message: message)
    }

    private func lease(_ address: IPv4Address, _ state: Lease.State, _ seconds: UInt32, _ exchange: Exchange) -> Lease {
        Lease(
            address: address, mac: exchange.mac, state: state, expiresAt: exchange.now + microseconds(seconds: seconds),
            hostname: exchange.request.option(.hostName).map { String(decoding: $0, as: UTF8.self) },
            server: inventory.configuration.serverName, updatedAt: exchange.now,
            clientID: Lease.clientID(of: exchange.request))
    }

    /// Lease times are configured in seconds; the lease table keeps wall-clock microseconds.
    private func microseconds(seconds: UInt32) -> Int64 { Int64(seconds) * 1_000_000 }
}
