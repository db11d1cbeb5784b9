import DHCPv4

/// The address side of `--dhcp full` (RFC 2131 §4.3): what a client message asks of the lease
/// table. Pure: the DHCP service runs the plan against the store, whose conditional writes make
/// each claim atomic.
public enum LeasePlanner {
    public enum Plan: Hashable, Sendable {
        /// DISCOVER: offer the first of these the store lets us claim.
        case offer(candidates: [IPv4Address])
        /// REQUEST the client may have: bind it (RFC 2131 §4.3.2).
        case acknowledge(IPv4Address)
        /// REQUEST for an address the client may not have.
        case refuse(String)
        /// REQUEST naming another server: the client took its offer; free ours.
        case withdrawOffer
        case release(IPv4Address)
        case decline(IPv4Address)
        /// A RELEASE or DECLINE that does not show it comes from the lease's holder: anyone on
        /// the LAN can put a victim's MAC in chaddr, so it is ignored (and counted).
        case distrust(String)
        /// INFORM (RFC 2131 §4.3.5): configuration only, no lease.
        case inform
        case ignore(String)
    }

    /// What the planner knows besides the message.
    public struct State: Sendable {
        public var server: IPv4Address
        public var pool: AddressPool
        /// The rows this message concerns: every row of its MAC, the rows at the addresses it names
        /// and at the addresses in `scan`, and every row of a MAC holding an offer there. The
        /// whole table will do.
        public var leases: [Lease]
        /// The dynamic addresses a DISCOVER may be offered besides its previous and requested
        /// ones, in order; nil = the whole range (then `leases` must be the whole table).
        public var scan: [IPv4Address]?
        /// Addresses the inventory reserves, by MAC.
        public var reservations: [HardwareAddress: IPv4Address]
        public var now: Int64

        public init(
            server: IPv4Address, pool: AddressPool, leases: [Lease], reservations: [HardwareAddress: IPv4Address],
            now: Int64, scan: [IPv4Address]? = nil
        ) {
            self.server = server
            self.pool = pool
            self.leases = leases
            self.reservations = reservations
            self.now = now
            self.scan = scan
        }
    }

    /// How many candidates a DISCOVER carries: enough to ride out claims lost to another server.
    public static let candidateLimit = 16

    /// How long after its ACK a client may DECLINE the address: it declines after probing the
    /// address with ARP (RFC 2131 §4.4.1), at once, never a lease later.
    public static let declineWindowSeconds: Int64 = 60

    /// `source`: the IPv4 source address of the datagram (a RELEASE comes unicast from the
    /// address it gives back, RFC 2131 §4.4.6).
    public static func plan(_ request: DHCPMessage, source: IPv4Address = .any, state: State) -> Plan {
        guard let type = request.messageType else { return .ignore("no message type") }
        let mac = request.clientHardwareAddress
        let byAddress = Dictionary(state.leases.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let reservedToOthers = Set(state.reservations.filter { $0.key != mac }.map(\.value))
        let reservation = state.reservations[mac]

        // Clients holding a binding: an offer to one of them on another address is what two
        // servers racing leave behind (the ACK's clean-up ran before the offer was written), and
        // that client has taken the other address.
        let bound = Set(state.leases.filter { $0.state == .bound && $0.isHeld(at: state.now) }.compactMap(\.mac))

        /// May `mac` have `address` now?
        func available(_ address: IPv4Address) -> Bool {
            guard state.pool.isInSubnet(address), address != state.server, !state.pool.routers.contains(address),
                !reservedToOthers.contains(address)
            else { return false }
            guard let lease = byAddress[address] else { return true }
            if lease.mac == mac && lease.state != .declined || !lease.isHeld(at: state.now) { return true }
            return lease.state == .offered && lease.mac.map(bound.contains) == true
        }

        switch type {
        case .discover:
            var candidates: [IPv4Address] = []
            func consider(_ address: IPv4Address?) {
                guard let address, !candidates.contains(address), available(address) else { return }
                candidates.append(address)
            }
            if let reservation {
                // A reserved machine gets its address or nothing: never a pool address instead.
                consider(reservation)
                return candidates.isEmpty
                    ? .ignore("reserved address \(reservation) is not available") : .offer(candidates: candidates)
            }
            // The address it had (RFC 2131 §4.3.1: "the client's current or previous address").
            let previous = state.leases.filter { $0.mac == mac && $0.state != .declined }.max {
                $0.updatedAt < $1.updatedAt
            }
            if let previous, state.pool.isDynamic(previous.address) { consider(previous.address) }
            if let requested = request.requestedIPAddress, state.pool.isDynamic(requested) { consider(requested) }
            if let scan = state.scan {
                for address in scan where candidates.count < candidateLimit && state.pool.isDynamic(address) {
                    consider(address)
                }
            } else {
                var next = state.pool.first.rawValue
                while candidates.count < candidateLimit && next <= state.pool.last.rawValue {
                    consider(IPv4Address(rawValue: next))
                    next += 1
                }
            }
            return candidates.isEmpty ? .ignore("the pool is exhausted") : .offer(candidates: candidates)

        case .request:
            if let serverID = request.serverIdentifier, serverID != state.server { return .withdrawOffer }
            let wanted = request.requestedIPAddress ?? (request.ciaddr.isAny ? nil : request.ciaddr)
            guard let wanted else { return .ignore("REQUEST names no address") }
            // No client-identifier check here: firmware PXE and the iPXE it loads are one machine
            // (one MAC) with different identifiers, and the second must get the first's address.
            if request.serverIdentifier != nil {
                // SELECTING: only the address we offered.
                guard let lease = byAddress[wanted], lease.mac == mac, lease.state == .offered || lease.state == .bound
                else { return .refuse("\(wanted) was not offered to \(mac)") }
                return .acknowledge(wanted)
            }
            guard state.pool.isInSubnet(wanted) else { return .refuse("\(wanted) is not on this network") }
            if let reservation, reservation != wanted {
                return .refuse("\(mac) is reserved \(reservation), not \(wanted)")
            }
            guard available(wanted) else { return .refuse("\(wanted) belongs to another client") }
            if byAddress[wanted] == nil, !state.pool.isDynamic(wanted), reservation != wanted {
                // INIT-REBOOT or RENEW for an address vboot never gave out and does not manage.
                return .ignore("\(wanted) is outside the dynamic range and not reserved")
            }
            return .acknowledge(wanted)

        case .decline:
            guard let address = request.requestedIPAddress, let lease = byAddress[address], lease.mac == mac else {
                return .distrust("DECLINE for an address \(mac) does not hold")
            }
            if let mismatch = clientIDMismatch(request, lease) { return .distrust("DECLINE: \(mismatch)") }
            let sinceACK = state.now - lease.updatedAt
            guard lease.state == .bound, sinceACK >= 0, sinceACK <= declineWindowSeconds * 1_000_000 else {
                return .distrust(
                    "DECLINE of \(address) by \(mac) long after its ACK (a client declines right after it)")
            }
            return .decline(address)

        case .release:
            guard !request.ciaddr.isAny, let lease = byAddress[request.ciaddr], lease.mac == mac else {
                return .distrust("RELEASE for an address \(mac) does not hold")
            }
            if let mismatch = clientIDMismatch(request, lease) { return .distrust("RELEASE: \(mismatch)") }
            guard source == request.ciaddr else {
                return .distrust("RELEASE of \(request.ciaddr) by \(mac) sent from \(source), not from that address")
            }
            return .release(request.ciaddr)

        case .inform:
            return .inform

        default:
            return .ignore("\(type) is not a client message")
        }
    }

    /// A lease taken with a client identifier is the identifier's, not the MAC's (RFC 2131 §4.2).
    private static func clientIDMismatch(_ request: DHCPMessage, _ lease: Lease) -> String? {
        guard let held = lease.clientID, Lease.clientID(of: request) != held else { return nil }
        return "client identifier differs from the one \(lease.address) was leased to"
    }
}
