import Foundation

/// Where the API listens: `ADDR:PORT`, ADDR an IPv4 literal or a bracketed IPv6 one (`[::1]:8081`).
/// Only literals: a name would resolve to whatever DNS says at start.
public struct APIListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address as the socket layer takes it (IPv6 without brackets).
    public var host: String
    public var port: Int

    /// The default: loopback only, so the API is the local admin's until a site names more.
    /// 8081 sits next to the boot listener's 8080 and is what `vboot machines --server` assumes.
    public static let loopback = APIListenAddress(host: "127.0.0.1", port: 8081)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
            guard Self.isIPv6(String(host)) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard Self.isIPv4(String(host)) else { return nil }
        }
        guard !port.isEmpty, port.allSatisfy(\.isASCII), let number = Int(port), (0...65535).contains(number) else {
            return nil
        }
        self.host = String(host)
        self.port = number
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// 127.0.0.0/8, ::1.
    var isLoopback: Bool { host.hasPrefix("127.") || host == "::1" }
    /// 0.0.0.0, ::: every address, loopback included.
    var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    /// The listeners to open: the named ones plus the loopback default, which stays unless a
    /// named one is itself on loopback or the wildcard (then it would collide, or move it).
    public static func effective(_ named: [APIListenAddress]) -> [APIListenAddress] {
        var result: [APIListenAddress] = []
        if !named.contains(where: { $0.isLoopback || $0.isWildcard }) { result.append(.loopback) }
        for address in named where !result.contains(address) { result.append(address) }
        return result
    }

    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
