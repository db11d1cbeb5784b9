import BootPolicy
import DHCPv4
import Foundation
import NIOCore
import Testing
import VBootServer
import VBootStore

/// `--dhcp full` against a host on the LAN that forges other machines' messages, over a real
/// socket: chaddr is whatever the sender writes.
@Suite("Full DHCP: forged RELEASE and DECLINE", .serialized)
struct FullDHCPAttackTests {
    static let victim = HardwareAddress("52:54:00:dd:00:01")!
    static let victimAddress = IPv4Address(127, 0, 0, 150)
    static let victimID: [UInt8] = [1, 0x52, 0x54, 0, 0xdd, 0, 1]

    static func message(
        _ type: DHCPMessageType, ciaddr: IPv4Address = .any, requested: IPv4Address? = nil
    )
        -> DHCPMessage
    {
        var message = DHCPMessage(op: .bootRequest, xid: 0x5150_0F, chaddr: victim, ciaddr: ciaddr)
        message.options = [
            DHCPOption(.messageType, [type.rawValue]), DHCPOption(.clientIdentifier, victimID),
            DHCPOption(.serverIdentifier, [127, 0, 0, 1]),
        ]
        if let requested { message.options.append(DHCPOption(.requestedIPAddress, requested.octets)) }
        return message
    }

    static func waitFor(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<200 where !(try await condition()) { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func forgedReleaseAndLateDeclineLeaveTheLeaseBound() async throws {
        let server = try TestServer(dhcp: .full) { configuration, _ in
            configuration.pool = AddressPool(
                first: IPv4Address(127, 0, 0, 100), last: IPv4Address(127, 0, 0, 199),
                subnetMask: IPv4Address(255, 0, 0, 0))
        }
        try await server.start(expecting: ["dhcp"])
        let store = try #require(server.server.inventory?.store)
        let now = WallClock.microsecondsNow()
        // The victim's lease, ACKed ten minutes ago.
        #expect(
            try await store.claim(
                Lease(
                    address: Self.victimAddress, mac: Self.victim, state: .bound, expiresAt: now + 3_000_000_000,
                    server: "test", updatedAt: now - 600_000_000, clientID: "01525400dd0001"), now: now))
        let attacker = try UDPClient()
        let port = UInt16(server.port("dhcp"))
        // Everything the victim would send but from the attacker's address, and a DECLINE long
        // after the ACK.
        attacker.send(Self.message(.release, ciaddr: Self.victimAddress).encoded().bytes, to: port)
        attacker.send(Self.message(.decline, requested: Self.victimAddress).encoded().bytes, to: port)
        try await Self.waitFor {
            server.server.counters[.dhcpReleaseRefused] + server.server.counters[.dhcpDeclineRefused] == 2
        }
        #expect(server.server.counters[.dhcpReleaseRefused] == 1)
        #expect(server.server.counters[.dhcpDeclineRefused] == 1)
        let lease = try #require(try await store.leases(macs: [Self.victim], addresses: []).first)
        #expect(lease.state == .bound && lease.address == Self.victimAddress)

        // The victim itself, from its own address: released.
        let holder = try UDPClient(host: Self.victimAddress.rawValue)
        holder.send(Self.message(.release, ciaddr: Self.victimAddress).encoded().bytes, to: port)
        try await Self.waitFor { try await store.leases(macs: [Self.victim], addresses: []).first?.state == .released }
        #expect(try await store.leases(macs: [Self.victim], addresses: []).first?.state == .released)
        await server.stop()
    }
}
