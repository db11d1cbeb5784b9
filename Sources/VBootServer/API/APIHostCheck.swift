import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import VBootAPI

/// DNS rebinding: a page from `evil.example`, whose name the attacker then points at vboot's
/// address, reads the API from a browser on the LAN as a same-origin request. The browser still
/// sends `Host: evil.example`, so the API answers only to names that are its own: IP literals,
/// `localhost`, the machine's host name and the names an admin adds (`--api-host`).
public struct APIHostPolicy: Sendable, Hashable {
    /// Lower case, no trailing dot.
    var names: Set<String>

    init(extraNames: [String], hostName: String = ServerConfiguration.hostName()) {
        names = Set((["localhost", hostName] + extraNames).map(Self.normalised))
    }

    /// A name an admin may add (`--api-host`): DNS letters, digits, dots and dashes; nil otherwise.
    public static func name(_ text: String) -> String? {
        guard !text.isEmpty, text.count <= 253,
            text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
        else { return nil }
        return normalised(text)
    }

    static func normalised(_ name: String) -> String {
        var lowered = name.lowercased()
        while lowered.hasSuffix(".") { lowered.removeLast() }
        return lowered
    }

    /// `authority` is the request's `Host` (RFC 9110 §7.2): `host[:port]`. No Host at all is let
    /// through: browsers always send one, so its absence is a local tool, not a rebinding page.
    func allows(_ authority: String?) -> Bool {
        guard let authority else { return true }
        let host: Substring
        let rest: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return false }
            host = authority[authority.index(after: authority.startIndex)..<close]
            rest = authority[authority.index(after: close)...]
            guard APIListenAddress.isIPv6(String(host)) else { return false }
        } else {
            host = authority.prefix { $0 != ":" }
            rest = authority.dropFirst(host.count)
        }
        if !rest.isEmpty {
            let port = rest.dropFirst()
            guard rest.hasPrefix(":"), !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber })
            else { return false }
        }
        if authority.hasPrefix("[") || APIListenAddress.isIPv4(String(host)) { return true }
        return names.contains(Self.normalised(String(host)))
    }
}

/// The API listener's first middleware: a `Host` not in the policy gets 421 Misdirected Request
/// (RFC 9110 §15.5.20) before any route runs; counted, and logged the first time.
struct APIHostCheck<Context: RequestContext>: RouterMiddleware {
    let policy: APIHostPolicy
    let counters: ServerCounters
    let logger: Logger
    private let logged = FirstTime()

    init(policy: APIHostPolicy, counters: ServerCounters, logger: Logger) {
        self.policy = policy
        self.counters = counters
        self.logger = logger
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard policy.allows(request.head.authority) else {
            counters.increment(.apiHostRefused)
            if logged.claim() {
                logger.warning(
                    "api: refused a request for Host \(request.head.authority ?? "") (not an IP, localhost, this host's name or an --api-host name: DNS rebinding?); further refusals are only counted (api_host_refused)"
                )
            }
            return APIRoutes.json(
                status: .misdirectedRequest,
                APIErrorBody(
                    error:
                        "this API answers only to its own names (an IP address, localhost, the host name or --api-host)"
                ))
        }
        return try await next(request, context)
    }
}

/// True for the first caller only: limits that log once when first hit.
final class FirstTime: Sendable {
    private let done = Atomic(false)

    func claim() -> Bool { !done.exchange(true, ordering: .relaxed) }
}
