import DHCPv4

/// Builds `--dhcp full` replies (RFC 2131 §4.3.1, table 3): the address and the pool's options,
/// plus, for network-boot clients, the same boot answer a proxy offer carries.
public enum DHCPServerReply {
    public static func make(
        _ type: DHCPMessageType, to request: DHCPMessage, address: IPv4Address?, pool: AddressPool,
        server: IPv4Address, boot: DHCPMessage?, message: String? = nil
    ) -> DHCPMessage {
        var reply = DHCPMessage(
            op: .bootReply, xid: request.xid, chaddr: request.clientHardwareAddress, htype: request.htype,
            flags: request.flags, ciaddr: type == .ack ? request.ciaddr : .any,
            siaddr: .any, giaddr: request.giaddr)
        reply.chaddr = request.chaddr
        reply.hlen = request.hlen
        reply.options = [
            DHCPOption(.messageType, [type.rawValue]),
            DHCPOption(.serverIdentifier, server.octets),
        ]
        if type == .nak {
            // RFC 2131 table 3: a NAK carries no address, no configuration.
            if let message { reply.options.append(DHCPOption(.message, string: message)) }
            return reply
        }
        if let address {
            reply.yiaddr = address
            reply.options.append(DHCPOption(.leaseTime, bigEndian(pool.leaseSeconds)))
            // RFC 2131 §4.4.5 defaults: T1 = 0.5, T2 = 0.875 of the lease.
            reply.options.append(DHCPOption(.renewalTime, bigEndian(pool.leaseSeconds / 2)))
            reply.options.append(DHCPOption(.rebindingTime, bigEndian(pool.leaseSeconds / 8 * 7)))
        }
        reply.options.append(DHCPOption(.subnetMask, pool.subnetMask.octets))
        if !pool.routers.isEmpty { reply.options.append(DHCPOption(.router, pool.routers.flatMap(\.octets))) }
        if !pool.dnsServers.isEmpty {
            reply.options.append(DHCPOption(.domainNameServer, pool.dnsServers.flatMap(\.octets)))
        }
        if let domain = pool.domain { reply.options.append(DHCPOption(.domainName, string: domain)) }
        if let boot {
            // The boot answer's own fields and options, minus those the address reply already has.
            reply.siaddr = boot.siaddr
            reply.file = boot.file
            reply.sname = boot.sname
            let own: Set<DHCPOptionCode> = [.messageType, .serverIdentifier]
            reply.options += boot.options.filter { !own.contains($0.code) }
        }
        return reply
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
