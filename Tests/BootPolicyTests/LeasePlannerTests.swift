import BootPolicy
import DHCPv4
import Testing

@Suite("Full DHCP: lease plans (RFC 2131 §4.3)")
struct LeasePlannerTests {
    static let server = IPv4Address(10, 0, 0, 2)
    static let pool = AddressPool(
        first: IPv4Address(10, 0, 0, 100), last: IPv4Address(10, 0, 0, 103),
        subnetMask: IPv4Address(255, 255, 255, 0), routers: [IPv4Address(10, 0, 0, 1)],
        dnsServers: [IPv4Address(10, 0, 0, 1)], domain: "lab.test", leaseSeconds: 600)
    static let mac = HardwareAddress("52:54:00:cc:00:01")!
    static let other = HardwareAddress("52:54:00:cc:00:02")!

    static func message(
        _ type: DHCPMessageType, mac: HardwareAddress = mac, requested: IPv4Address? = nil,
        serverID: IPv4Address? = nil, ciaddr: IPv4Address = .any
    ) -> DHCPMessage {
        var message = DHCPMessage(op: .bootRequest, xid: 7, chaddr: mac, ciaddr: ciaddr)
        message.options = [DHCPOption(.messageType, [type.rawValue])]
        if let requested { message.options.append(DHCPOption(.requestedIPAddress, requested.octets)) }
        if let serverID { message.options.append(DHCPOption(.serverIdentifier, serverID.octets)) }
        return message
    }

    static func state(
        leases: [Lease] = [], reservations: [HardwareAddress: IPv4Address] = [:], now: Int64 = 1000
    )
        -> LeasePlanner.State
    {
        .init(server: server, pool: pool, leases: leases, reservations: reservations, now: now)
    }

    static func address(_ last: UInt8) -> IPv4Address { IPv4Address(10, 0, 0, last) }

    @Test func discoverOffersPreviousThenRequestedThenFree() {
        let held = Lease(address: Self.address(100), mac: Self.other, state: .bound, expiresAt: 5000)
        let previous = Lease(address: Self.address(102), mac: Self.mac, state: .released, expiresAt: 10, updatedAt: 9)
        let plan = LeasePlanner.plan(
            Self.message(.discover, requested: Self.address(103)), state: Self.state(leases: [held, previous]))
        #expect(plan == .offer(candidates: [Self.address(102), Self.address(103), Self.address(101)]))
    }

    @Test func expiredAndQuarantinedAddresses() {
        let expired = Lease(address: Self.address(100), mac: Self.other, state: .bound, expiresAt: 999)
        let quarantined = Lease(address: Self.address(101), mac: nil, state: .declined, expiresAt: 5000)
        let plan = LeasePlanner.plan(Self.message(.discover), state: Self.state(leases: [expired, quarantined]))
        #expect(plan == .offer(candidates: [Self.address(100), Self.address(102), Self.address(103)]))
    }

    @Test func reservationsAreExclusiveBothWays() {
        let reserved = [Self.mac: Self.address(50)]
        #expect(
            LeasePlanner.plan(Self.message(.discover), state: Self.state(reservations: reserved))
                == .offer(candidates: [Self.address(50)]))
        // Another machine never gets a reserved address, even if it asks for it.
        let otherReserved = [Self.other: Self.address(100)]
        #expect(
            LeasePlanner.plan(
                Self.message(.discover, requested: Self.address(100)), state: Self.state(reservations: otherReserved))
                == .offer(candidates: [Self.address(101), Self.address(102), Self.address(103)]))
        #expect(
            LeasePlanner.plan(
                Self.message(.request, requested: Self.address(100)), state: Self.state(reservations: otherReserved))
                == .refuse("10.0.0.100 belongs to another client"))
    }

    /// Two servers: one offered .103 to `other` while the other server bound `other` to .100; the
    /// offer outlives the race (the ACK's clean-up could not see it yet) and would hold .103 until
    /// it expires. A client bound elsewhere will never take it: the address is free.
    @Test func anOfferToAClientBoundElsewhereIsFree() {
        let leases = [
            Lease(address: Self.address(100), mac: Self.other, state: .bound, expiresAt: 5000),
            Lease(address: Self.address(101), mac: Self.other, state: .offered, expiresAt: 1060),
            Lease(
                address: Self.address(102), mac: HardwareAddress("52:54:00:cc:00:03")!, state: .offered, expiresAt: 1060
            ),
            Lease(
                address: Self.address(103), mac: HardwareAddress("52:54:00:cc:00:04")!, state: .bound, expiresAt: 5000),
        ]
        #expect(
            LeasePlanner.plan(Self.message(.discover), state: Self.state(leases: leases))
                == .offer(candidates: [Self.address(101)]))
        #expect(
            LeasePlanner.plan(Self.message(.request, requested: Self.address(101)), state: Self.state(leases: leases))
                != .refuse("10.0.0.101 belongs to another client"))
    }

    @Test func exhaustedPoolIsSilent() {
        let leases = (100...103).map {
            Lease(address: Self.address(UInt8($0)), mac: Self.other, state: .bound, expiresAt: 5000)
        }
        #expect(
            LeasePlanner.plan(Self.message(.discover), state: Self.state(leases: leases))
                == .ignore("the pool is exhausted"))
    }

    @Test func requestStates() {
        let offered = Lease(address: Self.address(101), mac: Self.mac, state: .offered, expiresAt: 5000)
        // SELECTING: our offer, or NAK; another server's id withdraws our offer.
        #expect(
            LeasePlanner.plan(
                Self.message(.request, requested: Self.address(101), serverID: Self.server),
                state: Self.state(leases: [offered]))
                == .acknowledge(Self.address(101)))
        #expect(
            LeasePlanner.plan(
                Self.message(.request, requested: Self.address(102), serverID: Self.server),
                state: Self.state(leases: [offered]))
                == .refuse("10.0.0.102 was not offered to 52:54:00:cc:00:01"))
        #expect(
            LeasePlanner.plan(
                Self.message(.request, requested: Self.address(101), serverID: IPv4Address(10, 0, 0, 9)),
                state: Self.state(leases: [offered])) == .withdrawOffer)
        // INIT-REBOOT on the wrong network: NAK so the client starts over.
        #expect(
            LeasePlanner.plan(Self.message(.request, requested: IPv4Address(192, 168, 1, 5)), state: Self.state())
                == .refuse("192.168.1.5 is not on this network"))
        // RENEWING (ciaddr): extend.
        let bound = Lease(address: Self.address(101), mac: Self.mac, state: .bound, expiresAt: 5000)
        #expect(
            LeasePlanner.plan(Self.message(.request, ciaddr: Self.address(101)), state: Self.state(leases: [bound]))
                == .acknowledge(Self.address(101)))
        // An address outside the range that vboot never leased: not ours to answer.
        #expect(
            LeasePlanner.plan(Self.message(.request, requested: Self.address(20)), state: Self.state())
                == .ignore("10.0.0.20 is outside the dynamic range and not reserved"))
    }

    @Test func releaseDeclineInformOnlyForTheHolder() {
        let bound = Lease(address: Self.address(101), mac: Self.mac, state: .bound, expiresAt: 5000)
        #expect(
            LeasePlanner.plan(
                Self.message(.release, ciaddr: Self.address(101)), source: Self.address(101),
                state: Self.state(leases: [bound])) == .release(Self.address(101)))
        #expect(
            LeasePlanner.plan(
                Self.message(.release, mac: Self.other, ciaddr: Self.address(101)), source: Self.address(101),
                state: Self.state(leases: [bound]))
                == .distrust("RELEASE for an address 52:54:00:cc:00:02 does not hold"))
        #expect(
            LeasePlanner.plan(Self.message(.decline, requested: Self.address(101)), state: Self.state(leases: [bound]))
                == .decline(Self.address(101)))
        #expect(LeasePlanner.plan(Self.message(.inform, ciaddr: Self.address(7)), state: Self.state()) == .inform)
    }

    @Test func replyCarriesAddressOptionsAndTimers() throws {
        let request = Self.message(.discover)
        let reply = DHCPServerReply.make(
            .offer, to: request, address: Self.address(101), pool: Self.pool, server: Self.server, boot: nil)
        #expect(reply.yiaddr == Self.address(101) && reply.messageType == .offer)
        #expect(reply.option(.leaseTime) == [0, 0, 2, 88])
        #expect(reply.option(.renewalTime) == [0, 0, 1, 44])
        #expect(reply.option(.rebindingTime) == [0, 0, 2, 13])
        #expect(reply.option(.subnetMask) == [255, 255, 255, 0] && reply.option(.router) == [10, 0, 0, 1])
        #expect(reply.option(.domainName) == Array("lab.test".utf8) && reply.serverIdentifier == Self.server)
        let nak = DHCPServerReply.make(
            .nak, to: request, address: nil, pool: Self.pool, server: Self.server, boot: nil, message: "no")
        #expect(nak.yiaddr == .any && nak.option(.leaseTime) == nil && nak.option(.message) == Array("no".utf8))
    }

    // MARK: Spoofed RELEASE and DECLINE: any host can put a victim's MAC in chaddr.

    static func withClientID(_ message: DHCPMessage, _ id: [UInt8]) -> DHCPMessage {
        var message = message
        message.options.append(DHCPOption(.clientIdentifier, id))
        return message
    }

    static let victim = Lease(
        address: address(101), mac: mac, state: .bound, expiresAt: 900_000_000, updatedAt: 1_000_000,
        clientID: "01525400cc0001")

    /// The attacker sends the victim's MAC and address, broadcast or from its own address.
    @Test func releaseFromAnotherSourceAddressIsRefused() {
        let release = Self.withClientID(
            Self.message(.release, ciaddr: Self.address(101)), [1, 0x52, 0x54, 0, 0xcc, 0, 1])
        let state = Self.state(leases: [Self.victim], now: 2_000_000)
        for source in [IPv4Address.any, Self.address(150)] {
            #expect(
                LeasePlanner.plan(release, source: source, state: state)
                    == .distrust(
                        "RELEASE of 10.0.0.101 by 52:54:00:cc:00:01 sent from \(source), not from that address"))
        }
        #expect(LeasePlanner.plan(release, source: Self.address(101), state: state) == .release(Self.address(101)))
    }

    @Test func releaseWithoutTheLeaseClientIdentifierIsRefused() {
        let state = Self.state(leases: [Self.victim], now: 2_000_000)
        let refusal = LeasePlanner.Plan.distrust(
            "RELEASE: client identifier differs from the one 10.0.0.101 was leased to")
        // None at all, and another one, each from the right source address.
        #expect(
            LeasePlanner.plan(
                Self.message(.release, ciaddr: Self.address(101)), source: Self.address(101), state: state)
                == refusal)
        #expect(
            LeasePlanner.plan(
                Self.withClientID(Self.message(.release, ciaddr: Self.address(101)), [1, 2, 3]),
                source: Self.address(101), state: state) == refusal)
    }

    @Test func declineLongAfterTheACKIsRefused() {
        let decline = Self.withClientID(
            Self.message(.decline, requested: Self.address(101)), [1, 0x52, 0x54, 0, 0xcc, 0, 1])
        // Right after the ACK: the client's ARP probe found the address in use.
        #expect(
            LeasePlanner.plan(decline, state: Self.state(leases: [Self.victim], now: 31_000_000))
                == .decline(Self.address(101)))
        // Ten minutes into the lease: a forgery, not a probe.
        #expect(
            LeasePlanner.plan(decline, state: Self.state(leases: [Self.victim], now: 601_000_000))
                == .distrust(
                    "DECLINE of 10.0.0.101 by 52:54:00:cc:00:01 long after its ACK (a client declines right after it)"))
        // Without the lease's client identifier, even in the window.
        #expect(
            LeasePlanner.plan(
                Self.message(.decline, requested: Self.address(101)),
                state: Self.state(leases: [Self.victim], now: 2_000_000))
                == .distrust("DECLINE: client identifier differs from the one 10.0.0.101 was leased to"))
        // An address the MAC does not hold, and a lease only offered (never ACKed).
        var offered = Self.victim
        offered.state = .offered
        #expect(
            LeasePlanner.plan(decline, state: Self.state(leases: [offered], now: 2_000_000))
                == .distrust(
                    "DECLINE of 10.0.0.101 by 52:54:00:cc:00:01 long after its ACK (a client declines right after it)"))
        #expect(
            LeasePlanner.plan(
                Self.message(.decline, requested: Self.address(102)), state: Self.state(leases: [Self.victim]))
                == .distrust("DECLINE for an address 52:54:00:cc:00:01 does not hold"))
    }

    /// The server looks up only the rows a message concerns and a window of the range.
    @Test func discoverConsidersOnlyTheScannedWindow() {
        let held = Lease(address: Self.address(102), mac: Self.other, state: .bound, expiresAt: 5000)
        let state = LeasePlanner.State(
            server: Self.server, pool: Self.pool, leases: [held], reservations: [:], now: 1000,
            scan: [Self.address(102), Self.address(103)])
        #expect(LeasePlanner.plan(Self.message(.discover), state: state) == .offer(candidates: [Self.address(103)]))
    }
}
