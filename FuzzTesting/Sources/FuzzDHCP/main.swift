import BootPolicy
import DHCPv4
import FuzzSupport
import NIOCore

// One datagram, as it arrives on port 67 or 4011: parse, then every proxyDHCP decision (both
// ports, unknown and each inventory state) and the full-DHCP plan with the reply it builds.
let server = IPv4Address(10, 77, 0, 2)
let binaries = Set(IPXEBinaries.allNames)
let hints: [MachineBootHint?] =
    [nil] + NextBoot.allCases.map { MachineBootHint(nextBoot: $0) }
    + [MachineBootHint(nextBoot: .profile, proxyStrategy: .bootServer)]
let pool = AddressPool(
    first: IPv4Address(10, 77, 0, 100), last: IPv4Address(10, 77, 0, 103),
    subnetMask: IPv4Address(255, 255, 255, 0), routers: [server], dnsServers: [server], domain: "lan")

fuzz { bytes in
    guard let request = try? DHCPMessage(parsing: ByteBuffer(bytes: bytes)) else { return }
    for port in [ProxyDHCPResponder.Port.dhcp, .bootServer] {
        for hint in hints {
            let context = ProxyDHCPResponder.Context(
                serverAddress: server, httpPort: 8080, availableBinaries: binaries, machine: hint,
                answersUnknownMachines: hint != nil)
            let decision = ProxyDHCPResponder.decide(request, on: port, context: context)
            _ = decision.summary
            _ = decision.reply?.encoded(minimumLength: DHCPMessage.minimumBOOTPLength)
        }
    }
    // A small full pool: one address bound to the requester, one to another MAC, one quarantined.
    let mac = request.clientHardwareAddress
    let other = HardwareAddress([0x52, 0x54, 0, 0xAA, 0xBB, 0xCC])
    let state = LeasePlanner.State(
        server: server, pool: pool,
        leases: [
            Lease(address: IPv4Address(10, 77, 0, 100), mac: mac, state: .bound, expiresAt: 2_000),
            Lease(address: IPv4Address(10, 77, 0, 101), mac: other, state: .offered, expiresAt: 2_000),
            Lease(address: IPv4Address(10, 77, 0, 102), mac: nil, state: .declined, expiresAt: 2_000),
        ],
        reservations: [other: IPv4Address(10, 77, 0, 103)], now: 1_000)
    // Both sides of the RELEASE/DECLINE holder check: sent from ciaddr, or from elsewhere.
    let source = request.xid & 1 == 0 ? request.ciaddr : IPv4Address(10, 77, 0, 66)
    let plan = LeasePlanner.plan(request, source: source, state: state)
    let boot = ProxyDHCPResponder.decide(
        request, on: .dhcp, context: .init(serverAddress: server, httpPort: 8080, availableBinaries: binaries)
    ).reply
    switch plan {
    case .offer(let candidates):
        precondition(candidates.count <= LeasePlanner.candidateLimit)
        precondition(candidates.allSatisfy(pool.isInSubnet))
        _ = DHCPServerReply.make(.offer, to: request, address: candidates.first, pool: pool, server: server, boot: boot)
            .encoded()
    case .acknowledge(let address):
        _ = DHCPServerReply.make(.ack, to: request, address: address, pool: pool, server: server, boot: boot)
            .encoded()
    case .refuse(let why):
        _ = DHCPServerReply.make(.nak, to: request, address: nil, pool: pool, server: server, boot: nil, message: why)
            .encoded()
    case .inform:
        _ = DHCPServerReply.make(.ack, to: request, address: nil, pool: pool, server: server, boot: boot).encoded()
    case .withdrawOffer, .release, .decline, .distrust, .ignore:
        break
    }
}
