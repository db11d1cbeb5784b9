import DHCPv4

/// Everything vboot does with one parsed DHCP message on port 67 or 4011, decided without I/O:
/// the address to learn for the client, then a reply and where it goes, silence, or a lease
/// question for `--dhcp full`'s lease service; and what the machine's timeline and the log say.
/// The listener (`VBootServer/DHCP/`) carries the effect out and decides nothing itself.
public enum DHCPExchange {
    /// Where the datagram came from, as the socket saw it.
    public struct Source: Sendable {
        public var address: IPv4Address
        public var port: Int

        public init(address: IPv4Address, port: Int) {
            self.address = address
            self.port = port
        }
    }

    public enum LogLevel: Sendable { case debug, info, warning }

    /// A timeline event for the client's machine.
    public struct TimelineEntry: Sendable {
        public var outcome: BootEvent.Outcome
        public var mac: HardwareAddress
        /// Who sent it, for the per-source limit on unknown machines: a relay (giaddr), else the
        /// sender's address; nil for a broadcast from a client without one.
        public var source: String?
        var client: BootClient
        var port: ProxyDHCPResponder.Port
        /// The offer, when there was one (its boot file name is read only for the details).
        var offer: DHCPMessage?

        /// Built only when the event is kept: a storm of unknown machines is mostly counted,
        /// not recorded, and building this per packet cost the proxy a sixth of its throughput.
        public var details: [String: String] {
            var details = ["port": port.description, "firmware": "\(client.architecture) \(client.program)"]
            if let offer { details["offered"] = offer.bootFileName }
            return details
        }
    }

    public enum Action: Sendable {
        /// Answer with `message`, sent to `destination`.
        case reply(DHCPMessage, to: ReplyDestination)
        /// No answer from this port.
        case silence
        /// `--dhcp full`: the lease service answers (it needs the store); `boot` is the answer a
        /// proxy would give, for its OFFER or ACK to carry.
        case lease(boot: ProxyDHCPResponder.Decision)
    }

    public struct Effect: Sendable {
        /// The client uses this address: TFTP and HTTP see only addresses.
        public var learnedAddress: IPv4Address?
        public var action: Action
        /// The proxy decision behind the effect; its `summary` is the log and timeline line.
        public var decision: ProxyDHCPResponder.Decision
        public var timeline: TimelineEntry?
        public var logLevel: LogLevel
    }

    /// `leases`: vboot hands out addresses (`--dhcp full`); only port 67 asks the lease service,
    /// 4011 stays a boot server.
    public static func decide(
        _ request: DHCPMessage, from source: Source, on port: ProxyDHCPResponder.Port, leases: Bool,
        context: ProxyDHCPResponder.Context
    ) -> Effect {
        let learned = request.requestedIPAddress ?? (request.ciaddr.isAny ? nil : request.ciaddr)
        if leases, port == .dhcp {
            var asDiscover = request
            asDiscover.setOption(.messageType, [DHCPMessageType.discover.rawValue])
            let boot = ProxyDHCPResponder.decide(asDiscover, on: port, context: context)
            return Effect(
                learnedAddress: learned, action: .lease(boot: boot), decision: boot, timeline: nil, logLevel: .debug)
        }
        let decision = ProxyDHCPResponder.decide(request, on: port, context: context)
        let sender = sourceName(of: request, sentFrom: source.address)
        guard let reply = decision.reply else {
            // Routine silence (not a boot client, a REQUEST for the site server) stays off the
            // timeline, except for a machine on hold: its timeline says why it did not boot.
            let recorded = !decision.isRoutineSilence || context.machine?.nextBoot == .hold
            let timeline = decision.client.flatMap { client in
                recorded
                    ? TimelineEntry(outcome: .refused, mac: client.mac, source: sender, client: client, port: port)
                    : nil
            }
            return Effect(
                learnedAddress: learned, action: .silence, decision: decision, timeline: timeline,
                logLevel: decision.isRoutineSilence ? .debug : .warning)
        }
        let destination = ReplyDestination.forReply(to: request, from: (source.address, source.port), port: port)
        let timeline = decision.client.map { client in
            TimelineEntry(
                outcome: .ok, mac: client.mac, source: sender, client: client, port: port, offer: reply)
        }
        return Effect(
            learnedAddress: learned, action: .reply(reply, to: destination), decision: decision, timeline: timeline,
            logLevel: .info)
    }

    /// A relay's giaddr, else the datagram's IPv4 source; nil for a broadcast from a client
    /// without an address (only the global limit applies to it).
    public static func sourceName(of request: DHCPMessage, sentFrom address: IPv4Address) -> String? {
        if !request.giaddr.isAny { return "relay \(request.giaddr)" }
        return address.isAny ? nil : address.description
    }
}
