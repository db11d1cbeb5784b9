import NIOConcurrencyHelpers

/// The bytes all NBD connections hold together: requests received and not yet handled, replies
/// not yet taken by their sockets. Each connection has its own bounds; this one keeps the sum
/// bounded too, whatever many machines (or hosts posing as them) do at once. Past `limit` a
/// connection that has chosen its export stops reading at its next request boundary (a request
/// it has begun arrives whole) and has no read answered while a reply of its own is in flight
/// (so no connection waits on another's: one with nothing in flight has its next read answered);
/// it goes on once the sum is back under the limit. While it is over, a connection whose client
/// leaves its replies untaken, or a request half sent, is closed (`NBDTimeouts.stalled`). The
/// sum passes the limit by what connections take at the same moment, handshakes (at most
/// 1 MiB each), requests being finished and a read each (at most `NBDRequestCheck.maxLength`).
final class NBDMemory: Sendable {
    /// Room for a few hundred machines' requests in flight at once (Linux sends 128 KiB to
    /// 1.25 MiB at a time) and for a few dozen clients' largest reads.
    static let defaultLimit = 512 << 20

    let limit: Int
    private let state = NIOLockedValueBox<State>(State())

    private struct State {
        var used = 0
        var waiting: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    init(limit: Int = defaultLimit) {
        self.limit = limit
    }

    var used: Int { state.withLockedValue { $0.used } }
    var isShort: Bool { used > limit }

    func take(_ bytes: Int) {
        state.withLockedValue { $0.used += bytes }
    }

    /// Gives `bytes` back; the connections waiting go on once there is room again.
    func give(_ bytes: Int) {
        guard bytes > 0 else { return }
        let wake = state.withLockedValue { state -> [@Sendable () -> Void] in
            state.used -= bytes
            guard state.used <= limit, !state.waiting.isEmpty else { return [] }
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for resume in wake { resume() }
    }

    /// Calls `resume` once there is room (at once if there is now).
    func wait(_ id: ObjectIdentifier, resume: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            guard state.used > limit else { return true }
            state.waiting[id] = resume
            return false
        }
        if now { resume() }
    }

    /// The connection has ended: it waits no more.
    func forget(_ id: ObjectIdentifier) {
        state.withLockedValue { _ = $0.waiting.removeValue(forKey: id) }
    }
}

/// How long a connection may be stuck before it is closed.
struct NBDTimeouts: Sendable {
    /// From connecting to choosing an export (not counting the wait for an image's first check).
    var handshake = Duration.seconds(30)
    /// While `NBDMemory` is short: replies left untaken, or a request left half sent, this long.
    /// A client that reads nothing for a minute holds memory others need; a running kernel
    /// never does (a paused VM does, and is closed only when memory is short).
    var stalled = Duration.seconds(60)

    /// How often a connection looks at its own clocks.
    var period: Duration { min(handshake, stalled) / 3 }
}
