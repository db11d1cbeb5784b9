import DHCPv4
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import TFTP

/// The TFTP listener (RFC 1350): answers read requests on port 69 and runs each transfer on
/// its own socket (a new transfer ID), confined to the boot-file store.
public struct TFTPService: Service {
    let environment: TFTPEnvironment
    let onBound: @Sendable (Int) -> Void

    init(environment: TFTPEnvironment, onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.environment = environment
        self.onBound = onBound
    }

    public func run() async throws {
        let environment = self.environment
        try await environment.engines.start()
        let configuration = environment.configuration
        let host = configuration.listenAddress?.description ?? "0.0.0.0"
        let port = configuration.tftpPort
        do {
            try await ListenerLoop.run(
                name: "tftp", logger: environment.logger,
                bind: {
                    do {
                        return [
                            try await UDPSocket.bind(
                                group: MultiThreadedEventLoopGroup.singleton, host: host, port: port
                            ) {
                                channel in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(
                                        TFTPListenerHandler(environment: environment))
                                }
                            }
                        ]
                    } catch {
                        throw StartupError(
                            "TFTP cannot listen on \(host) UDP port \(port): \(error)\(BindAdvice.text(port: port, error: error) ?? "")"
                        )
                    }
                },
                onBound: { channels in
                    let bound = channels.first?.localAddress?.port ?? port
                    onBound(bound)
                    environment.logger.info("tftp: listening on \(host) UDP \(bound)")
                })
        } catch {
            await environment.engines.stop()
            throw error
        }
        await environment.engines.stop()
    }
}
