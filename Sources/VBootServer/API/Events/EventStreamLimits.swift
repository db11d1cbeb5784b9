import NIOCore

/// How many live timeline streams (`GET /api/v1/events`) the API holds and how much each may
/// queue: a slow or vanished browser costs at most `queueBytes`, never a backlog.
public struct EventStreamLimits: Sendable, Hashable {
    /// Streams open at once, and from one address. Each holds an HTTP connection and at most
    /// `queueBytes`: 64 × 256 KiB = 16 MiB in the worst case.
    public var subscribers = 64
    public var subscribersPerClient = 8
    public var queueBytes = 256 * 1024
    /// Events read per store query; a full batch is followed by another at once.
    public var batch = 512
    /// How often the store is read while someone listens (the recorder writes every 250 ms).
    public var interval: Duration = .milliseconds(250)
    /// A comment after this long without an event.
    public var keepalive: TimeAmount = .seconds(15)
    /// Frames untaken this long: a browser that stopped reading; the stream is closed.
    public var stalled: TimeAmount = .seconds(30)

    public init() {}
}
