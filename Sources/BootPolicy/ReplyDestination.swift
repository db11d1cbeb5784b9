import DHCPv4

/// Where a server reply goes (RFC 2131 §4.1, "giaddr/ciaddr/broadcast" rules).
public enum ReplyDestination: Hashable, Sendable {
    case unicast(IPv4Address, port: Int)
    case broadcast(port: Int)

    /// RFC 2131 §4.1 ports.
    public static let serverPort = 67
    public static let clientPort = 68

    /// `source` is where the request came from. Without raw sockets vboot cannot unicast to a
    /// client that has no address yet, so those replies are broadcast, as the RFC allows.
    public static func forReply(
        to request: DHCPMessage, from source: (address: IPv4Address, port: Int),
        port: ProxyDHCPResponder.Port
    ) -> ReplyDestination {
        if !request.giaddr.isAny { return .unicast(request.giaddr, port: serverPort) }
        // Port 4011 requests come from a configured client: answer where it asked from.
        if port == .bootServer, !source.address.isAny { return .unicast(source.address, port: source.port) }
        if !request.ciaddr.isAny { return .unicast(request.ciaddr, port: clientPort) }
        return .broadcast(port: clientPort)
    }

    /// `--dhcp full`'s replies: as `forReply`, except that a NAK without a relay is always
    /// broadcast (RFC 2131 §4.1).
    public static func forServerReply(_ reply: DHCPMessage, to request: DHCPMessage) -> ReplyDestination {
        if reply.messageType == .nak, request.giaddr.isAny { return .broadcast(port: clientPort) }
        return forReply(to: request, from: (.any, clientPort), port: .dhcp)
    }
}
