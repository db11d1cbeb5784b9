import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Synchronization

/// Keeps a datagram listener open for the life of the service. NIO closes a UDP channel on
/// send errors it deems fatal (ENETUNREACH, EPERM from a firewall, ENOBUFS); a boot server
/// must not go deaf because one reply could not leave, so a listener that closes while the
/// service is running is opened again.
enum ListenerLoop {
    static func run(
        name: String, logger: Logger, bind: @escaping @Sendable () async throws -> [any Channel],
        onBound: @Sendable ([any Channel]) -> Void
    ) async throws {
        let stopping = Atomic<Bool>(false)
        let current = NIOLockedValueBox<[any Channel]>([])
        var channels = try await bind()
        current.withLockedValue { $0 = channels }
        onBound(channels)
        try await withTaskCancellationOrGracefulShutdownHandler {
            var delay: Duration = .milliseconds(50)
            while true {
                for channel in channels { try? await channel.closeFuture.get() }
                if stopping.load(ordering: .acquiring) || Task.isCancelled { return }
                logger.warning("\(name): listener closed after a socket error; reopening")
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                for channel in channels { try? await channel.close() }
                do {
                    channels = try await bind()
                    current.withLockedValue { $0 = channels }
                    delay = .milliseconds(50)
                } catch {
                    logger.error("\(name): cannot reopen listener: \(error)")
                    channels = []
                }
            }
        } onCancelOrGracefulShutdown: {
            stopping.store(true, ordering: .releasing)
            for channel in current.withLockedValue({ $0 }) { channel.close(promise: nil) }
        }
    }
}
