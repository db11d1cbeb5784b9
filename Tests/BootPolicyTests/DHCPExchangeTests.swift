import BootPolicy
import DHCPv4
import Testing

/// The whole effect of one DHCP message, as the listener carries it out: reply and destination,
/// silence, or a lease question; the address learnt, the timeline entry and the log level.
@Suite("DHCP exchange effects")
struct DHCPExchangeTests {
    static let broadcastSource = DHCPExchange.Source(address: .any, port: 68)

    static func context(machine: MachineBootHint? = nil) -> ProxyDHCPResponder.Context {
        .init(
            serverAddress: ProxyDHCPResponderTests.server, httpPort: 8080,
            availableBinaries: ProxyDHCPResponderTests.allBinaries, machine: machine)
    }

    @Test func ovmfDiscoverIsAnsweredByBroadcastAndRecorded() throws {
        let request = try Fixture.message("ovmf-x64-discover.bin")
        let effect = DHCPExchange.decide(
            request, from: Self.broadcastSource, on: .dhcp, leases: false, context: Self.context())
        guard case .reply(let reply, let destination) = effect.action else {
            Issue.record("expected a reply, got \(effect.action)")
            return
        }
        #expect(reply.bootFileName == "ipxe.efi")
        #expect(destination == .broadcast(port: 68))
        #expect(effect.learnedAddress == nil, "a DISCOVER names no address of its own")
        let entry = try #require(effect.timeline)
        #expect(entry.outcome == .ok && entry.mac == request.clientHardwareAddress)
        #expect(entry.source == nil, "a broadcast from 0.0.0.0 has no source of its own")
        #expect(entry.details["offered"] == "ipxe.efi" && entry.details["port"] == "67")
        #expect(effect.logLevel == .info)
    }

    @Test func bootServerRequestIsAnsweredWhereItCameFromAndItsAddressLearnt() throws {
        let request = try Fixture.message("ovmf-x64-request-4011.bin")
        // The address the site's DHCP server gave it when the capture was made.
        let client = request.ciaddr
        #expect(!client.isAny)
        let effect = DHCPExchange.decide(
            request, from: .init(address: client, port: 68), on: .bootServer, leases: false,
            context: Self.context())
        guard case .reply(let reply, let destination) = effect.action else {
            Issue.record("expected a reply, got \(effect.action)")
            return
        }
        #expect(reply.messageType == .ack)
        #expect(destination == .unicast(client, port: 68))
        #expect(effect.learnedAddress == client)
        #expect(effect.timeline?.source == client.description)
    }

    @Test func routineSilenceStaysOffTheTimeline() throws {
        // A REQUEST on 67 is for the site's DHCP server, not for a proxy.
        let request = try Fixture.message("ovmf-x64-request.bin")
        let effect = DHCPExchange.decide(
            request, from: Self.broadcastSource, on: .dhcp, leases: false, context: Self.context())
        guard case .silence = effect.action else {
            Issue.record("expected silence, got \(effect.action)")
            return
        }
        #expect(effect.timeline == nil)
        #expect(effect.logLevel == .debug)
        #expect(effect.learnedAddress != nil, "the REQUEST names the address the site server offered")
    }

    @Test func aMachineOnHoldIsSilentButItsTimelineSaysWhy() throws {
        let request = try Fixture.message("ovmf-x64-discover.bin")
        let effect = DHCPExchange.decide(
            request, from: Self.broadcastSource, on: .dhcp, leases: false,
            context: Self.context(machine: .init(nextBoot: .hold)))
        guard case .silence = effect.action else {
            Issue.record("expected silence, got \(effect.action)")
            return
        }
        #expect(effect.timeline?.outcome == .refused)
        #expect(effect.decision.summary.hasSuffix("on hold"))
        #expect(effect.logLevel == .debug)
    }

    @Test func aMissingBinaryIsRecordedAndWarned() throws {
        let request = try Fixture.message("ovmf-x64-discover.bin")
        let context = ProxyDHCPResponder.Context(
            serverAddress: ProxyDHCPResponderTests.server, httpPort: 8080, availableBinaries: ["undionly.kpxe"])
        let effect = DHCPExchange.decide(
            request, from: Self.broadcastSource, on: .dhcp, leases: false, context: context)
        guard case .silence = effect.action else {
            Issue.record("expected silence, got \(effect.action)")
            return
        }
        #expect(effect.timeline?.outcome == .refused)
        #expect(effect.logLevel == .warning)
    }

    /// `--dhcp full`: a REQUEST on 67 goes to the lease service with the boot answer a proxy
    /// would have given to the same client's DISCOVER.
    @Test func fullDHCPAsksTheLeaseServiceWithTheBootAnswer() throws {
        let request = try Fixture.message("ovmf-x64-request.bin")
        let effect = DHCPExchange.decide(
            request, from: Self.broadcastSource, on: .dhcp, leases: true, context: Self.context())
        guard case .lease(let boot) = effect.action else {
            Issue.record("expected a lease question, got \(effect.action)")
            return
        }
        #expect(boot.reply?.bootFileName == "ipxe.efi")
        #expect(effect.timeline == nil, "the lease service records the exchange")
    }

    /// Port 4011 stays a boot server under `--dhcp full`: only 67 hands out addresses.
    @Test func theBootServerPortNeverAsksForALease() throws {
        let request = try Fixture.message("ovmf-x64-request-4011.bin")
        let effect = DHCPExchange.decide(
            request, from: .init(address: request.ciaddr, port: 68), on: .bootServer, leases: true,
            context: Self.context())
        guard case .reply(let reply, _) = effect.action else {
            Issue.record("expected a reply, got \(effect.action)")
            return
        }
        #expect(reply.messageType == .ack)
    }

    @Test func aRelayIsTheSource() throws {
        var request = try Fixture.message("ovmf-x64-discover.bin")
        request.giaddr = IPv4Address(10, 9, 0, 1)
        let effect = DHCPExchange.decide(
            request, from: .init(address: IPv4Address(10, 9, 0, 1), port: 67), on: .dhcp, leases: false,
            context: Self.context())
        #expect(effect.timeline?.source == "relay 10.9.0.1")
        guard case .reply(_, let destination) = effect.action else {
            Issue.record("expected a reply, got \(effect.action)")
            return
        }
        #expect(destination == .unicast(IPv4Address(10, 9, 0, 1), port: 67))
    }

    /// RFC 2131 §4.1: a NAK without a relay is broadcast even to a client with an address.
    @Test func aNakIsBroadcastUnlessRelayed() throws {
        var request = try Fixture.message("ovmf-x64-request.bin")
        request.ciaddr = IPv4Address(10, 77, 0, 138)
        var nak = DHCPMessage(op: .bootReply, xid: request.xid, chaddr: request.clientHardwareAddress)
        nak.options = [DHCPOption(.messageType, [DHCPMessageType.nak.rawValue])]
        var ack = nak
        ack.options = [DHCPOption(.messageType, [DHCPMessageType.ack.rawValue])]
        #expect(ReplyDestination.forServerReply(nak, to: request) == .broadcast(port: 68))
        #expect(ReplyDestination.forServerReply(ack, to: request) == .unicast(IPv4Address(10, 77, 0, 138), port: 68))
        request.giaddr = IPv4Address(10, 9, 0, 1)
        #expect(ReplyDestination.forServerReply(nak, to: request) == .unicast(IPv4Address(10, 9, 0, 1), port: 67))
    }
}
