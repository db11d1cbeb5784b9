import BootPolicy
import DHCPv4

/// The `--dhcp full` pool as written in the config file and flags (`pool.*`, `--dhcp-*`), before it is checked against
/// the interface vboot listens on.
public struct PoolSettings: Sendable, Hashable {
    public var range: String?
    public var netmask: IPv4Address?
    public var routers: [IPv4Address]?
    public var dnsServers: [IPv4Address]?
    public var domain: String?
    public var leaseSeconds: UInt32?
    public var declineQuarantineSeconds: UInt32?

    public init() {}

    /// The pool, or nil without a range. The netmask defaults to that of the interface carrying
    /// `listen`.
    public func resolve(listen: IPv4Address?) throws(ConfigurationError) -> AddressPool? {
        guard let range else { return nil }
        let mask = netmask ?? listen.flatMap(InterfaceAddresses.netmask(of:))
        guard let mask else {
            throw ConfigurationError(
                "the DHCP pool needs a netmask: give --dhcp-netmask (pool.netmask), or --listen an address of a local interface"
            )
        }
        let (first, last) = try AddressPool.range(range, subnetMask: mask)
        var pool = AddressPool(
            first: first, last: last, subnetMask: mask, routers: routers ?? [], dnsServers: dnsServers ?? [],
            domain: domain)
        if let leaseSeconds { pool.leaseSeconds = leaseSeconds }
        if let declineQuarantineSeconds { pool.declineQuarantineSeconds = declineQuarantineSeconds }
        return pool
    }
}
