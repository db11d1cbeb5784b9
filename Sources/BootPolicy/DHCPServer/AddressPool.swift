import DHCPv4

/// What `--dhcp full` hands out: one subnet, a dynamic range in it, and the options every
/// client gets (RFC 2132 §3: mask, routers, DNS, domain).
public struct AddressPool: Hashable, Sendable {
    public var first: IPv4Address
    public var last: IPv4Address
    public var subnetMask: IPv4Address
    public var routers: [IPv4Address]
    public var dnsServers: [IPv4Address]
    public var domain: String?
    /// RFC 2132 §9.2.
    public var leaseSeconds: UInt32
    /// How long an OFFER holds its address for the client's REQUEST.
    public var offerSeconds: UInt32
    /// How long an address a client DECLINEd (RFC 2131 §4.3.3: in use by someone else) stays out
    /// of the pool.
    public var declineQuarantineSeconds: UInt32

    public init(
        first: IPv4Address, last: IPv4Address, subnetMask: IPv4Address, routers: [IPv4Address] = [],
        dnsServers: [IPv4Address] = [], domain: String? = nil, leaseSeconds: UInt32 = 3600, offerSeconds: UInt32 = 60,
        declineQuarantineSeconds: UInt32 = 600
    ) {
        self.first = first
        self.last = last
        self.subnetMask = subnetMask
        self.routers = routers
        self.dnsServers = dnsServers
        self.domain = domain
        self.leaseSeconds = leaseSeconds
        self.offerSeconds = offerSeconds
        self.declineQuarantineSeconds = declineQuarantineSeconds
    }

    /// Parses `10.0.0.100-10.0.0.199`; both ends must lie in one subnet of `subnetMask`.
    public static func range(
        _ text: String, subnetMask: IPv4Address
    ) throws(ConfigurationError) -> (
        IPv4Address, IPv4Address
    ) {
        let parts = text.split(separator: "-", maxSplits: 1).map { $0.trimmingWhitespace() }
        guard parts.count == 2, let first = IPv4Address(parts[0]), let last = IPv4Address(parts[1]) else {
            throw ConfigurationError("range \"\(text)\": expected FIRST-LAST, e.g. 10.0.0.100-10.0.0.199")
        }
        guard first.rawValue <= last.rawValue else {
            throw ConfigurationError("range \(text): the first address is after the last")
        }
        guard first.rawValue & subnetMask.rawValue == last.rawValue & subnetMask.rawValue else {
            throw ConfigurationError("range \(text) crosses subnets of mask \(subnetMask)")
        }
        return (first, last)
    }

    public var network: IPv4Address { IPv4Address(rawValue: first.rawValue & subnetMask.rawValue) }
    public var broadcast: IPv4Address { IPv4Address(rawValue: network.rawValue | ~subnetMask.rawValue) }

    public func isDynamic(_ address: IPv4Address) -> Bool {
        (first.rawValue...last.rawValue).contains(address.rawValue)
    }

    /// In the subnet and neither its network nor its broadcast address.
    public func isInSubnet(_ address: IPv4Address) -> Bool {
        address.rawValue & subnetMask.rawValue == network.rawValue && address != network && address != broadcast
    }

    public var size: Int { Int(last.rawValue - first.rawValue) + 1 }
}
