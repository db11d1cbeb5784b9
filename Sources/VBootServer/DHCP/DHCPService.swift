import BootPolicy
import DHCPv4
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The proxyDHCP listener on one port (67 or 4011). Thin: parse, ask `ProxyDHCPResponder`,
/// send. A bad packet is counted and dropped; nothing a client sends ends the listener.
public struct ProxyDHCPService: Service {
    let port: Int
    let role: ProxyDHCPResponder.Port
    let environment: DHCPEnvironment
    let onBound: @Sendable (Int) -> Void

    init(
        port: Int, role: ProxyDHCPResponder.Port, environment: DHCPEnvironment,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.port = port
        self.role = role
        self.environment = environment
        self.onBound = onBound
    }

    public func run() async throws {
        let role = self.role
        let environment = self.environment
        let port = self.port
        // One socket per interface, bound to its device: a broadcast reply must leave by the
        // interface the request came in on, and a host without a default route has no route
        // for 255.255.255.255 at all.
        // With --listen, only the interfaces that carry that address answer: announcing it on
        // another segment would send clients to an address they cannot reach.
        let configuration = environment.configuration
        let interfaces =
            configuration.interface.map { [$0] }
            ?? InterfaceAddresses.ipv4InterfaceNames(owning: configuration.listenAddress)
        guard !interfaces.isEmpty else {
            throw StartupError("proxyDHCP: no interface with an IPv4 address to listen on")
        }
        let name = "proxydhcp \(port)"
        let full = role == .dhcp ? environment.fullDHCP : nil
        // Full DHCP: the listener queues what needs the store; one consumer, owned here, answers.
        async let consumer: Void = full?.run() ?? ()
        try await ListenerLoop.run(
            name: name, logger: environment.logger,
            bind: {
                var channels: [any Channel] = []
                do {
                    for interface in interfaces {
                        channels.append(
                            try await UDPSocket.bind(
                                group: MultiThreadedEventLoopGroup.singleton, host: "0.0.0.0", port: port,
                                interface: interface
                            ) { channel in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(
                                        ProxyDHCPHandler(role: role, environment: environment))
                                }
                            })
                    }
                } catch {
                    for channel in channels { try? await channel.close() }
                    throw StartupError(
                        "proxyDHCP cannot listen on UDP port \(port): \(error)"
                            + (BindAdvice.text(port: port, error: error)
                                ?? " (another DHCP server, or a second vboot, on this host?)")
                    )
                }
                return channels
            },
            onBound: { channels in
                let bound = channels.first?.localAddress?.port ?? port
                onBound(bound)
                environment.logger.info(
                    "proxydhcp: listening on UDP \(bound) (\(role == .dhcp ? "DHCP" : "PXE boot server")) on \(interfaces.joined(separator: ", "))"
                )
            })
        // Stopped: what is queued gets no answer (clients retransmit to whoever serves next).
        full?.finish()
        await consumer
    }
}

/// What the DHCP handlers share.
struct DHCPEnvironment: Sendable {
    var configuration: ServerConfiguration
    var catalog: BinaryCatalog
    var interfaces: InterfaceAddresses
    var inventory: Inventory
    var counters: ServerCounters
    var logger: Logger
    /// Set under `--dhcp full`: port 67 hands out addresses too.
    var fullDHCP: FullDHCPServer?
}

final class ProxyDHCPHandler: ChannelInboundHandler {
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
        let counters = environment.counters
        counters.increment("dhcp_packets_received")
        let request: DHCPMessage
        do {
            request = try DHCPMessage(parsing: envelope.data)
        } catch {
            counters.increment("dhcp_packets_malformed")
            environment.logger.debug(
                "proxydhcp: dropped malformed packet from \(envelope.remoteAddress.compact): \(error)")
            return
        }
        guard let server = serverAddress(for: envelope) else {
            environment.logger.warning(
                "proxydhcp: no IPv4 address on the interface \(request.clientHardwareAddress) asked on; use --listen")
            return
        }
        let configuration = environment.configuration
        let mac = request.clientHardwareAddress
        let inventory = environment.inventory
        let settings = inventory.live.current
        // Learn which address this MAC uses: TFTP and HTTP see only addresses.
        if let requested = request.requestedIPAddress ?? (request.ciaddr.isAny ? nil : request.ciaddr) {
            inventory.addresses.learn(requested, is: mac)
        }
        let decisionContext = ProxyDHCPResponder.Context(
            serverAddress: server, httpPort: configuration.httpPort,
            availableBinaries: environment.catalog.names, strategies: settings.proxyStrategies,
            machine: inventory.directory.entry(for: mac),
            answersUnknownMachines: settings.unknownMachines != .ignore)
        if role == .dhcp, let full = environment.fullDHCP {
            return serveFull(
                request, source: envelope.remoteAddress.ipv4 ?? .any, server: server, full: full,
                decisionContext: decisionContext, context: context)
        }
        let decision = ProxyDHCPResponder.decide(request, on: role, context: decisionContext)
        guard let reply = decision.reply else {
            if let client = decision.client, !decision.isRoutineSilence || decisionContext.machine?.nextBoot == .hold {
                inventory.recorder.record(
                    .dhcp, .refused, mac: client.mac, source: Self.source(of: request, envelope),
                    summary: decision.summary,
                    details: ["port": role.description, "firmware": "\(client.architecture) \(client.program)"])
            }
            counters.increment("dhcp_silent")
            if decision.isRoutineSilence {
                environment.logger.debug("proxydhcp: \(decision.summary)")
            } else {
                environment.logger.warning("proxydhcp: \(decision.summary)")
            }
            return
        }
        let source: (address: DHCPv4.IPv4Address, port: Int) = (
            envelope.remoteAddress.ipv4 ?? .any, envelope.remoteAddress.port ?? ReplyDestination.clientPort
        )
        let destination: SocketAddress
        switch ReplyDestination.forReply(to: request, from: source, port: role) {
        case .unicast(let address, let port): destination = .ipv4(address, port: port)
        case .broadcast(let port): destination = .ipv4(DHCPv4.IPv4Address.broadcast, port: port)
        }
        var buffer = context.channel.allocator.buffer(capacity: DHCPMessage.minimumBOOTPLength + 64)
        reply.encode(into: &buffer, minimumLength: DHCPMessage.minimumBOOTPLength)
        // Flushed once per read batch (channelReadComplete): the replies to one recvmmsg leave
        // in one sendmmsg.
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: destination, data: buffer)), promise: nil)
        counters.increment("dhcp_replies_sent")
        if let client = decision.client {
            inventory.recorder.record(
                .dhcp, .ok, mac: client.mac, source: Self.source(of: request, envelope), summary: decision.summary,
                details: [
                    "port": role.description, "firmware": "\(client.architecture) \(client.program)",
                    "offered": reply.bootFileName,
                ])
        }
        environment.logger.info(
            "proxydhcp: \(decision.summary) [to \(destination.ipv4?.description ?? "?"):\(destination.port ?? 0)]")
    }

    /// `--dhcp full` on port 67: the lease decision needs the store, so it is queued for the
    /// service's consumer, which writes the reply (NIO channels accept writes from any thread).
    private func serveFull(
        _ request: DHCPMessage, source: DHCPv4.IPv4Address, server: DHCPv4.IPv4Address, full: FullDHCPServer,
        decisionContext: ProxyDHCPResponder.Context, context: ChannelHandlerContext
    ) {
        // The boot answer a proxy would give this client, for the OFFER/ACK to carry.
        var asDiscover = request
        asDiscover.setOption(.messageType, [DHCPMessageType.discover.rawValue])
        let boot = ProxyDHCPResponder.decide(asDiscover, on: .dhcp, context: decisionContext)
        full.submit(
            FullDHCPServer.Job(
                request: request, source: source, server: server, boot: boot.reply, bootSummary: boot.summary,
                channel: context.channel))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A send to an unreachable host and the like: log, keep listening.
        environment.counters.increment("dhcp_socket_errors")
        environment.logger.debug("proxydhcp: socket error \(error)")
    }

    /// Who sent a DHCP message, for per-source limits: its relay (giaddr), else its IPv4 source
    /// address; nil for a broadcast from a client without an address (only the global limit).
    static func source(of request: DHCPMessage, _ envelope: AddressedEnvelope<ByteBuffer>) -> String? {
        if !request.giaddr.isAny { return "relay \(request.giaddr)" }
        guard let address = envelope.remoteAddress.ipv4, !address.isAny else { return nil }
        return address.description
    }

    /// `--listen` when given, else the address of the interface the datagram arrived on.
    private func serverAddress(for envelope: AddressedEnvelope<ByteBuffer>) -> DHCPv4.IPv4Address? {
        if let listen = environment.configuration.listenAddress, !listen.isAny { return listen }
        guard let info = envelope.metadata?.packetInfo else { return nil }
        return environment.interfaces.address(ofInterface: info.interfaceIndex)
    }
}

/// A service could not start; the message says why, for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
