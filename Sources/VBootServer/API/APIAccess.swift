import DHCPv4
import HTTPTypes

/// Who may do what: mutations need the bearer token; reads need it too unless the client's
/// address is in one of the configured read networks.
public struct APIAccess: Sendable, Hashable {
    /// nil: no token configured, so nothing can be changed through the API.
    public var token: String?
    public var readNetworks: [IPv4Network]

    public init(token: String? = nil, readNetworks: [IPv4Network] = []) {
        self.token = token
        self.readNetworks = readNetworks
    }

    enum Level { case read, write }

    func allows(_ level: Level, authorization: String?, from address: IPv4Address?) -> Bool {
        if hasToken(authorization) { return true }
        guard level == .read, let address else { return false }
        return readNetworks.contains { $0.contains(address) }
    }

    func hasToken(_ authorization: String?) -> Bool {
        guard let token, let authorization, authorization.hasPrefix("Bearer ") else { return false }
        return Self.constantTimeEqual(Array(authorization.dropFirst("Bearer ".count).utf8), Array(token.utf8))
    }

    /// Compares without leaking the position of the first difference through timing.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// `10.0.0.0/8`, `192.168.1.7` (= /32).
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    public var address: IPv4Address
    public var prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = parts.first.flatMap({ IPv4Address($0) }) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : 32
        guard let length, (0...32).contains(length) else { return nil }
        self.address = address
        self.prefixLength = length
    }

    var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - UInt32(prefixLength)) }

    public func contains(_ other: IPv4Address) -> Bool { other.rawValue & mask == address.rawValue & mask }

    public var description: String { "\(address)/\(prefixLength)" }
}
