import NIOCore

/// How many live timeline streams (`GET /api/v1/events`) the API holds and how much each may
/// queue: a slow or vanished browser costs at most `queueBytes`, never a backlog.
public struct EventStreamLimits: Sendable, Hashable {
    /// Streams open at once, and from one address. Each holds an HTTP connection and at most
    /// `queueBytes`: 64 × 256 KiB = 16 MiB in the worst case.
    public var subscribers = 64
    public var subscribersPerClient = 8
    /// Streams opened without the token (from a read network): they may not take the places the
    /// token's holders need.
    public var subscribersWithoutToken = 32
    public var queueBytes = 256 * 1024
    /// Events read per store query; a full batch is followed by another at once.
    public var batch = 512
    /// Store reads per round: one for the streams that are caught up, the rest shared in turn by
    /// streams still catching up from an older `Last-Event-ID`.
    public var readsPerRound = 8
    /// How old an event must be before it is sent when other servers share the store (µs; see
    /// `TimelineFeed.holdBack`).
    public var sharedStoreHoldBack: Int64 = 2_000_000
    /// How often the store is read while someone listens (the recorder writes every 250 ms).
    public var interval: Duration = .milliseconds(250)
    /// A comment after this long without an event.
    public var keepalive: TimeAmount = .seconds(15)
    /// Frames untaken this long: a browser that stopped reading; the stream is closed.
    public var stalled: TimeAmount = .seconds(30)

    public init() {}
}
