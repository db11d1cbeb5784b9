/// A capture's link-layer header type (tcpdump.org's LINKTYPE registry; libpcap's `pcap_datalink`).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// LINKTYPE_ETHERNET (DLT_EN10MB): what a bridge, veth or tap capture has.
    public static let ethernet = Self(rawValue: 1)
    /// LINKTYPE_RAW: an IP header first (DLT_RAW is 12 on some systems, 14 on OpenBSD).
    public static let raw = Self(rawValue: 101)
    public static let rawAlias = Self(rawValue: 12)
    /// LINKTYPE_IPV4.
    public static let ipv4 = Self(rawValue: 228)
    /// LINKTYPE_LINUX_SLL: `tcpdump -i any` before libpcap 1.10.
    public static let linuxCooked = Self(rawValue: 113)
    /// LINKTYPE_LINUX_SLL2: `tcpdump -i any` since libpcap 1.10.
    public static let linuxCooked2 = Self(rawValue: 276)

    public var isSupported: Bool {
        [Self.ethernet, .raw, .rawAlias, .ipv4, .linuxCooked, .linuxCooked2].contains(self)
    }

    public var description: String {
        switch self {
        case .ethernet: "Ethernet"
        case .raw, .rawAlias, .ipv4: "raw IP"
        case .linuxCooked: "Linux cooked (SLL)"
        case .linuxCooked2: "Linux cooked v2 (SLL2)"
        default: "link type \(rawValue)"
        }
    }
}
