import DHCPv4
import NIOConcurrencyHelpers
import NIOCore

/// One live stream's queue between the feed (which offers frames) and the HTTP response (which
/// takes them as fast as the browser reads). Bounded in bytes: when it is full the feed stops
/// offering, and the subscriber's cursor stays where it is, so nothing is lost — the feed reads
/// the rest from the store once there is room. A queue that stays full (a browser that stopped
/// reading) is ended by the feed, its frames dropped.
final class FeedSubscriber: Sendable {
    struct State {
        var queue = CircularBuffer<ByteBuffer>()
        var bytes = 0
        /// The last event id offered (or skipped by the filter); nil until the feed sets it.
        var cursor: Int64?
        var finished = false
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        /// Since when frames have waited with none taken; nil while the queue is empty.
        var waitingSince: NIODeadline?
        var lastOffer: NIODeadline
    }

    /// Only this machine's events; nil for every machine's.
    let mac: HardwareAddress?
    /// The stream's client, for the per-address cap.
    let client: String
    /// Opened with the API token (the others, from read networks, have places of their own).
    let withToken: Bool
    let byteLimit: Int
    private let state: NIOLockedValueBox<State>
    /// Called once when the feed ends the stream because it is stalled.
    private let onStall: @Sendable () -> Void

    init(
        mac: HardwareAddress?, client: String, after: Int64?, withToken: Bool = true, byteLimit: Int,
        now: NIODeadline, onStall: @escaping @Sendable () -> Void = {}
    ) {
        self.mac = mac
        self.client = client
        self.withToken = withToken
        self.byteLimit = byteLimit
        self.onStall = onStall
        state = NIOLockedValueBox(State(cursor: after, lastOffer: now))
    }

    var cursor: Int64? { state.withLockedValue { $0.cursor } }
    var queuedBytes: Int { state.withLockedValue { $0.bytes } }
    var isFinished: Bool { state.withLockedValue { $0.finished } }
    /// Whether the feed should read for it now.
    var hasRoom: Bool { state.withLockedValue { !$0.finished && $0.bytes < byteLimit } }

    /// Moves the cursor without sending (events the filter leaves out, the starting point).
    func advance(to id: Int64) {
        state.withLockedValue { $0.cursor = max($0.cursor ?? id, id) }
    }

    /// Queues `frame` (event `id`, nil for a comment) unless that would pass the byte limit
    /// (an empty queue always takes one frame, however big). False: full, or ended.
    @discardableResult
    func offer(_ frame: ByteBuffer, id: Int64?, now: NIODeadline) -> Bool {
        let waiter = state.withLockedValue { state -> CheckedContinuation<ByteBuffer?, Never>?? in
            guard !state.finished else { return nil }
            guard state.bytes == 0 || state.bytes + frame.readableBytes <= byteLimit else { return nil }
            state.lastOffer = now
            if let id { state.cursor = id }
            if let waiter = state.waiter {
                state.waiter = nil
                return .some(waiter)
            }
            state.queue.append(frame)
            state.bytes += frame.readableBytes
            if state.waitingSince == nil { state.waitingSince = now }
            return .some(nil)
        }
        guard let waiter else { return false }
        waiter?.resume(returning: frame)
        return true
    }

    /// The next frame, waiting for one; nil once the stream has ended (or the task is cancelled).
    func next() async -> ByteBuffer? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
                let ready = state.withLockedValue { state -> ByteBuffer?? in
                    if let frame = state.queue.popFirst() {
                        state.bytes -= frame.readableBytes
                        // The browser reads: what is left waits from now.
                        state.waitingSince = state.queue.isEmpty ? nil : .now()
                        return .some(frame)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Ends the stream: frames still queued are dropped, a waiting `next` returns nil.
    func finish() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<ByteBuffer?, Never>? in
            state.finished = true
            state.queue.removeAll()
            state.bytes = 0
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Frames waiting untaken since before `now - stalled` (a browser that stopped reading, or a
    /// response that never started): ends it and tells the route, which closes the connection
    /// so a write blocked on that browser ends too. True if so.
    func endIfStalled(now: NIODeadline, stalled: TimeAmount) -> Bool {
        let stalledNow = state.withLockedValue { state -> Bool in
            guard !state.finished, let since = state.waitingSince, now - since >= stalled else { return false }
            return true
        }
        guard stalledNow else { return false }
        finish()
        onStall()
        return true
    }

    /// Nothing offered for `interval`: time for a keepalive comment.
    func isQuiet(now: NIODeadline, interval: TimeAmount) -> Bool {
        state.withLockedValue { !$0.finished && now - $0.lastOffer >= interval }
    }
}
