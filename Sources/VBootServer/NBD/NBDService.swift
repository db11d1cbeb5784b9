import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The NBD listener (TCP 10809): diskless machines' block-device roots, one connection each.
struct NBDService: Service {
    static let defaultPort = 10809

    let host: String
    let port: Int
    let exports: any NBDExportSource
    let counters: ServerCounters
    let logger: Logger
    var onBound: @Sendable (Int) -> Void = { _ in }
    var memory = NBDMemory()
    var timeouts = NBDTimeouts()

    func run() async throws {
        let (host, port, exports, counters, logger) = (self.host, self.port, self.exports, self.counters, self.logger)
        let (memory, timeouts) = (self.memory, self.timeouts)
        let admission = NBDAdmission()
        try await ListenerLoop.run(
            name: "nbd", logger: logger,
            bind: {
                do {
                    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                        .childChannelOption(.socketOption(.so_keepalive), value: 1)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    NBDConnectionHandler(
                                        exports: exports, admission: admission, memory: memory, timeouts: timeouts,
                                        counters: counters, logger: logger))
                            }
                        }
                        .bind(host: host, port: port).get()
                    return [channel]
                } catch {
                    throw StartupError(
                        "NBD cannot listen on \(host) TCP port \(port): \(error)\(BindAdvice.text(port: port, error: error) ?? "")"
                    )
                }
            },
            onBound: { channels in
                let bound = channels.first?.localAddress?.port ?? port
                onBound(bound)
                logger.info("nbd: listening on \(host) TCP \(bound)")
            })
    }
}
