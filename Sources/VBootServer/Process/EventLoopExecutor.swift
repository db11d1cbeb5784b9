import NIOCore
import NIOPosix

/// Swift concurrency's global executor on the event loops. Hummingbird runs each request's
/// handler as a task; on the default executor every request then hops from its event loop to
/// Dispatch's pool and back (a semaphore post and a context switch each way: a third of the CPU
/// serving `/health` went to thread switches). With the loops as the executor the handler runs
/// where its bytes arrive. Blocking work stays off it: SQLite goes through SQLiteNIO's thread
/// pool, TFTP has its own thread.
public enum EventLoopExecutor {
    /// Call once, before any task is started, after the loop count is settled
    /// (`NIO_SINGLETON_GROUP_LOOP_COUNT`). False if another executor was installed first.
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
