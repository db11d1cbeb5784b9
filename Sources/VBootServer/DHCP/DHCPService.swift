import BootPolicy
import DHCPv4
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The DHCP listener on one port (67 or 4011), for proxy and full DHCP alike: parse, ask
/// `DHCPExchange` for the effect, carry it out. A bad packet is counted and dropped; nothing a
/// client sends ends the listener.
public struct DHCPService: Service {
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
        let interfaces = try Self.interfaces(environment.configuration)
        let full = role == .dhcp ? environment.leases : nil
        // Full DHCP: the listener queues what needs the store; one consumer, owned here, answers.
        async let consumer: Void = full?.run() ?? ()
        try await ListenerLoop.run(
            name: "proxydhcp \(port)", logger: environment.logger,
            bind: { try await Self.bind(port: port, on: interfaces, role: role, environment) },
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

    /// One socket per interface, bound to its device: a broadcast reply must leave by the
    /// interface the request came in on, and a host without a default route has no route for
    /// 255.255.255.255 at all. With --listen, only the interfaces that carry that address answer:
    /// announcing it on another segment would send clients to an address they cannot reach.
    static func interfaces(_ configuration: ServerConfiguration) throws -> [String] {
        let interfaces =
            configuration.interface.map { [$0] }
            ?? InterfaceAddresses.ipv4InterfaceNames(owning: configuration.listenAddress)
        guard !interfaces.isEmpty else {
            throw StartupError("proxyDHCP: no interface with an IPv4 address to listen on")
        }
        return interfaces
    }

    static func bind(
        port: Int, on interfaces: [String], role: ProxyDHCPResponder.Port, _ environment: DHCPEnvironment
    ) async throws -> [any Channel] {
        var channels: [any Channel] = []
        do {
            for interface in interfaces {
                channels.append(
                    try await UDPSocket.bind(
                        group: MultiThreadedEventLoopGroup.singleton, host: "0.0.0.0", port: port, interface: interface
                    ) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                DHCPHandler(role: role, environment: environment))
                        }
                    })
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw StartupError(
                "proxyDHCP cannot listen on UDP port \(port): \(error)"
                    + (BindAdvice.text(port: port, error: error)
                        ?? " (another DHCP server, or a second vboot, on this host?)"))
        }
        return channels
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
    var leases: LeaseService?
}
