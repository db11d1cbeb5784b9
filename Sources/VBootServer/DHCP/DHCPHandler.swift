import BootPolicy
import DHCPv4
import Logging
import NIOCore

/// One DHCP socket's handler: parses, asks `DHCPExchange` for the effect, carries it out.
final class DHCPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let role: ProxyDHCPResponder.Port
    private let environment: DHCPEnvironment

    init(role: ProxyDHCPResponder.Port, environment: DHCPEnvironment) {
        self.role = role
        self.environment = environment
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        environment.counters.increment(.dhcpPacketsReceived)
        let request: DHCPMessage
        do {
            request = try DHCPMessage(parsing: envelope.data)
        } catch {
            environment.counters.increment(.dhcpPacketsMalformed)
            environment.logger.debug(
                "proxydhcp: dropped malformed packet from \(envelope.remoteAddress.compact): \(error)")
            return
        }
        guard let server = serverAddress(for: envelope) else {
            environment.logger.warning(
                "proxydhcp: no IPv4 address on the interface \(request.clientHardwareAddress) asked on; use --listen")
            return
        }
        let source = DHCPExchange.Source(
            address: envelope.remoteAddress.ipv4 ?? .any,
            port: envelope.remoteAddress.port ?? ReplyDestination.clientPort)
        let full = role == .dhcp ? environment.leases : nil
        let effect = DHCPExchange.decide(
            request, from: source, on: role, leases: full != nil, context: decisionContext(server, request))
        perform(effect, for: request, from: source, server: server, full: full, context: context)
    }

    /// What the decision needs to know: the server's address and HTTP port, the binaries on
    /// disk, the live settings and the inventory's word on this MAC.
    private func decisionContext(_ server: DHCPv4.IPv4Address, _ request: DHCPMessage) -> ProxyDHCPResponder.Context {
        let settings = environment.inventory.live.current
        return ProxyDHCPResponder.Context(
            serverAddress: server, httpPort: environment.configuration.httpPort,
            availableBinaries: environment.catalog.names, strategies: settings.proxyStrategies,
            machine: environment.inventory.directory.entry(for: request.clientHardwareAddress),
            answersUnknownMachines: settings.unknownMachines != .ignore, loader: settings.loader)
    }

    private func perform(
        _ effect: DHCPExchange.Effect, for request: DHCPMessage, from source: DHCPExchange.Source,
        server: DHCPv4.IPv4Address, full: LeaseService?, context: ChannelHandlerContext
    ) {
        let inventory = environment.inventory
        if let address = effect.learnedAddress { inventory.addresses.learn(address, is: request.clientHardwareAddress) }
        // The log line is built only at a level that prints it.
        var sentTo: SocketAddress?
        switch effect.action {
        case .lease(let boot):
            // The lease service's consumer writes the reply (NIO channels accept writes from any thread).
            full?.submit(
                LeaseService.Job(
                    request: request, source: source.address, server: server, boot: boot.reply,
                    bootSummary: boot.summary, channel: context.channel))
            return
        case .silence:
            environment.counters.increment(.dhcpSilent)
        case .reply(let reply, let destination):
            let envelope = reply.datagram(to: destination, allocator: context.channel.allocator)
            let address = envelope.remoteAddress
            // Flushed once per read batch (channelReadComplete): the replies to one recvmmsg
            // leave in one sendmmsg.
            context.write(wrapOutboundOut(envelope), promise: nil)
            environment.counters.increment(.dhcpRepliesSent)
            sentTo = address
        }
        if let entry = effect.timeline {
            inventory.recorder.record(
                .dhcp, entry.outcome, mac: entry.mac, source: entry.source, summary: effect.decision.summary,
                details: entry.details)
        }
        let level: Logger.Level =
            switch effect.logLevel {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            }
        environment.logger.log(
            level: level,
            "proxydhcp: \(effect.decision.summary)\(sentTo.map { " [to \($0.ipv4?.description ?? "?"):\($0.port ?? 0)]" } ?? "")"
        )
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send to an unreachable host and the like: log, keep listening.
        environment.counters.increment(.dhcpSocketErrors)
        environment.logger.debug("proxydhcp: socket error \(error)")
    }

    /// `--listen` when given, else the address of the interface the datagram arrived on.
    private func serverAddress(for envelope: AddressedEnvelope<ByteBuffer>) -> DHCPv4.IPv4Address? {
        if let listen = environment.configuration.listenAddress, !listen.isAny { return listen }
        guard let info = envelope.metadata?.packetInfo else { return nil }
        return environment.interfaces.address(ofInterface: info.interfaceIndex)
    }
}

extension DHCPMessage {
    /// The reply as a datagram, padded to `minimumBOOTPLength`,
    /// to where `ReplyDestination` says.
    func datagram(to destination: ReplyDestination, allocator: ByteBufferAllocator) -> AddressedEnvelope<ByteBuffer> {
        var buffer = allocator.buffer(capacity: DHCPMessage.minimumBOOTPLength + 64)
        encode(into: &buffer, minimumLength: DHCPMessage.minimumBOOTPLength)
        return AddressedEnvelope(remoteAddress: .ipv4(destination), data: buffer)
    }
}
