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

    func run() async throws {
        let (host, port, exports, counters, logger) = (self.host, self.port, self.exports, self.counters, self.logger)
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
                                        exports: exports, admission: admission, counters: counters, logger: logger))
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

/// How many NBD connections vboot holds: a machine needs one (two for a moment while it
/// reconnects), so a LAN host that opens many is refused past a few, and the whole stays bounded.
final class NBDAdmission: Sendable {
    static let perAddress = 8
    static let total = 4096

    private let open = NIOLockedValueBox<(total: Int, byAddress: [String: Int])>((0, [:]))

    /// nil when admitted (then `leave` once it ends), else why not.
    func admit(_ address: String) -> String? {
        open.withLockedValue { open in
            let mine = open.byAddress[address, default: 0]
            if mine >= Self.perAddress { return "\(address) already has \(mine) connections" }
            if open.total >= Self.total { return "\(open.total) connections open, the most vboot takes" }
            open.total += 1
            open.byAddress[address] = mine + 1
            return nil
        }
    }

    func leave(_ address: String) {
        open.withLockedValue { open in
            open.total -= 1
            let left = open.byAddress[address, default: 1] - 1
            open.byAddress[address] = left > 0 ? left : nil
        }
    }
}
