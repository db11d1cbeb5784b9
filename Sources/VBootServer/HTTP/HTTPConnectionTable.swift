import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The open connections of one HTTP listener, per client address and in all, held under its
/// HTTPConnectionLimits behind one lock that every connection's HTTPConnectionGuard shares.
/// Unlike Hummingbird's `availableConnectionsDelegate`, which stops accepting and leaves a
/// legitimate client queued behind the attacker's in the backlog, a connection over a limit is
/// accepted and refused at once, and the per-client count needs the peer's address.
final class HTTPConnectionTable: Sendable {
    let limits: HTTPConnectionLimits
    private let counters: ServerCounters
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var count = HTTPConnectionCount()
        var notices: [String: LimitNotice] = [:]
    }

    init(limits: HTTPConnectionLimits, counters: ServerCounters, logger: Logger) {
        self.limits = limits
        self.counters = counters
        self.logger = logger
        counters.gauge(.httpConnectionsOpen) { [state] in state.withLockedValue { $0.count.total } }
    }

    /// Counts the connection in, or says which limit refuses it.
    func admit(_ client: String) -> HTTPConnectionCount.Refusal? {
        let (refusal, notice) = state.withLockedValue { state -> (HTTPConnectionCount.Refusal?, Int?) in
            guard let refusal = state.count.admit(client, limits: limits) else { return (nil, nil) }
            return (refusal, state.notices[refusal.rawValue, default: LimitNotice()].hit(at: .now()))
        }
        guard let refusal else { return nil }
        counters.increment(.httpConnectionsRefused, reason: refusal.rawValue)
        if let notice {
            logger.warning(
                notice == 1
                    ? "http: \(refusal.firstTime(client: client, limits: limits)); further connections get 503 and are closed (counted on /metrics)"
                    : "http: \(notice) more connections refused over the \(refusal.limitName) since the last note (latest from \(client))"
            )
        }
        return refusal
    }

    func release(_ client: String) {
        state.withLockedValue { $0.count.release(client) }
    }

    /// A connection closed by its HTTPConnectionDeadline.
    func expired(_ expiry: HTTPConnectionDeadline.Expiry, client: String) {
        let notice = state.withLockedValue { $0.notices[expiry.rawValue, default: LimitNotice()].hit(at: .now()) }
        counters.increment(.httpConnectionsClosed, reason: expiry.rawValue)
        guard let notice else { return }
        switch (expiry, notice) {
        case (.request, 1):
            logger.warning(
                "http: closed a connection from \(client) that sent no whole request within \(limits.requestTimeout) (--http-request-timeout; a stalled or slowloris client); counted on /metrics"
            )
        case (.request, _):
            logger.warning(
                "http: \(notice) more connections closed by the request timeout since the last note (latest from \(client))"
            )
        case (.idle, 1):
            logger.info(
                "http: closed a kept-alive connection from \(client) after \(limits.idleTimeout) idle (--http-idle-timeout)"
            )
        case (.idle, _):
            logger.info("http: \(notice) more idle kept-alive connections closed since the last note")
        }
    }

    var openConnections: Int { state.withLockedValue { $0.count.total } }
}

/// Open connections per client address and in all; pure, so the limits are tested without sockets.
struct HTTPConnectionCount {
    enum Refusal: String, Equatable {
        case total = "total_limit"
        case perClient = "per_client_limit"

        var limitName: String { self == .total ? "total limit" : "per-client limit" }

        func firstTime(client: String, limits: HTTPConnectionLimits) -> String {
            switch self {
            case .total:
                "\(limits.maximumConnections) connections are open, the total limit (--max-http-connections); refused one from \(client)"
            case .perClient:
                "\(client) holds \(limits.maximumConnectionsPerClient) connections, the per-client limit (--max-http-connections-per-client)"
            }
        }
    }

    private(set) var total = 0
    private(set) var perClient: [String: Int] = [:]

    mutating func admit(_ client: String, limits: HTTPConnectionLimits) -> Refusal? {
        let held = perClient[client] ?? 0
        guard held < limits.maximumConnectionsPerClient else { return .perClient }
        guard total < limits.maximumConnections else { return .total }
        perClient[client] = held + 1
        total += 1
        return nil
    }

    mutating func release(_ client: String) {
        guard let held = perClient[client] else { return }
        perClient[client] = held > 1 ? held - 1 : nil
        total -= 1
    }
}

/// A limit's log line: the first time it is hit, then at most once a minute with how many times.
struct LimitNotice {
    private var lastLogged: NIODeadline?
    private var unlogged = 0

    /// The hits to report now (1 the first time), or nil to stay quiet.
    mutating func hit(at now: NIODeadline, every interval: TimeAmount = .minutes(1)) -> Int? {
        unlogged += 1
        if let lastLogged, now - lastLogged < interval { return nil }
        lastLogged = now
        defer { unlogged = 0 }
        return unlogged
    }
}
