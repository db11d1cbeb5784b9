import NIOCore

/// When an HTTP connection is closed for making no progress, as nginx (client_header_timeout,
/// keepalive_timeout) and Go (ReadHeaderTimeout, IdleTimeout) decide it:
/// - a request, head and body, arrives whole within `requestTimeout` of its first byte (of the
///   connection's opening, for its first request); bytes trickled in do not extend it;
/// - a kept-alive connection waits at most `idleTimeout` for the next request's first byte;
/// - while vboot owes a response (being produced, or written however slowly the client reads
///   it), nothing runs out.
struct HTTPConnectionDeadline {
    enum Expiry: String, Equatable {
        case request = "request_timeout"
        case idle = "idle_timeout"
    }

    private enum Incoming: Equatable {
        case none
        /// Bytes of a request whose head is not whole yet.
        case head(since: NIODeadline)
        /// Its head is in, its end is not.
        case body(since: NIODeadline)
    }

    let requestTimeout: TimeAmount
    let idleTimeout: TimeAmount
    private var incoming: Incoming
    private var idleSince: NIODeadline
    /// Request heads in minus responses written out.
    private var responsesOwed = 0

    init(requestTimeout: TimeAmount, idleTimeout: TimeAmount, openedAt: NIODeadline) {
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        incoming = .head(since: openedAt)
        idleSince = openedAt
    }

    /// When the connection is closed unless something happens first; nil while vboot owes the
    /// client a response.
    var deadline: (at: NIODeadline, expiry: Expiry)? {
        switch incoming {
        case .none: responsesOwed == 0 ? (idleSince + idleTimeout, .idle) : nil
        // A pipelined request behind a response vboot is still writing waits its turn.
        case .head(let since): responsesOwed == 0 ? (since + requestTimeout, .request) : nil
        // The body of the request being answered is owed even while the answer goes out.
        case .body(let since): responsesOwed <= 1 ? (since + requestTimeout, .request) : nil
        }
    }

    /// Any bytes from the client, before the HTTP decoder.
    mutating func bytesReceived(at now: NIODeadline) {
        if incoming == .none { incoming = .head(since: now) }
    }

    mutating func headReceived(at now: NIODeadline) {
        responsesOwed += 1
        switch incoming {
        case .head(let since): incoming = .body(since: since)
        // A pipelined head the decoder held from an earlier read.
        case .none, .body: incoming = .body(since: now)
        }
    }

    mutating func requestEnded(at now: NIODeadline) {
        incoming = .none
        if responsesOwed == 0 { idleSince = now }
    }

    /// The response's last byte went to the socket.
    mutating func responseEnded(at now: NIODeadline) {
        guard responsesOwed > 0 else { return }
        responsesOwed -= 1
        if responsesOwed == 0 { idleSince = now }
        // A pipelined request that waited its turn gets its whole time from now.
        switch incoming {
        case .head where responsesOwed == 0: incoming = .head(since: now)
        case .body where responsesOwed == 1: incoming = .body(since: now)
        case .none, .head, .body: break
        }
    }
}
