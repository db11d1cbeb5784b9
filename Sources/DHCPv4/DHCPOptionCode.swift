/// A DHCP option code, from IANA's "BOOTP Vendor Extensions and DHCP Options" registry.
public struct DHCPOptionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    /// RFC 2132 §3.1.
    public static let pad = Self(0)
    /// RFC 2132 §3.3.
    public static let subnetMask = Self(1)
    /// RFC 2132 §3.5.
    public static let router = Self(3)
    /// RFC 2132 §3.8.
    public static let domainNameServer = Self(6)
    /// RFC 2132 §3.14.
    public static let hostName = Self(12)
    /// RFC 2132 §3.17.
    public static let domainName = Self(15)
    /// RFC 2132 §8.4; PXE sub-options when option 60 is `PXEClient` (RFC 4578 §2.4).
    public static let vendorSpecific = Self(43)
    /// RFC 2132 §9.1.
    public static let requestedIPAddress = Self(50)
    /// RFC 2132 §9.2.
    public static let leaseTime = Self(51)
    /// RFC 2132 §9.3.
    public static let overload = Self(52)
    /// RFC 2132 §9.6.
    public static let messageType = Self(53)
    /// RFC 2132 §9.7.
    public static let serverIdentifier = Self(54)
    /// RFC 2132 §9.8.
    public static let parameterRequestList = Self(55)
    /// RFC 2132 §9.9.
    public static let message = Self(56)
    /// RFC 2132 §9.10.
    public static let maximumMessageSize = Self(57)
    /// RFC 2132 §9.11.
    public static let renewalTime = Self(58)
    /// RFC 2132 §9.12.
    public static let rebindingTime = Self(59)
    /// RFC 2132 §9.13.
    public static let vendorClassIdentifier = Self(60)
    /// RFC 2132 §9.14.
    public static let clientIdentifier = Self(61)
    /// RFC 2132 §9.4.
    public static let tftpServerName = Self(66)
    /// RFC 2132 §9.5.
    public static let bootfileName = Self(67)
    /// RFC 3004 §4 (iPXE sends the raw, non-RFC form).
    public static let userClass = Self(77)
    /// RFC 3046 §2.
    public static let relayAgentInformation = Self(82)
    /// RFC 4578 §2.1.
    public static let clientSystemArchitecture = Self(93)
    /// RFC 4578 §2.2.
    public static let clientNetworkInterface = Self(94)
    /// RFC 4578 §2.3.
    public static let clientMachineIdentifier = Self(97)
    /// iPXE's encapsulated options (site-specific range, RFC 3942; see iPXE `dhcp.h`).
    public static let ipxeEncapsulated = Self(175)
    /// RFC 2132 §3.2.
    public static let end = Self(255)

    public var description: String { String(rawValue) }
}

/// One option exactly as it was on the wire: unknown and repeated options survive a round trip.
public struct DHCPOption: Hashable, Sendable {
    public var code: DHCPOptionCode
    public var data: [UInt8]

    public init(_ code: DHCPOptionCode, _ data: [UInt8]) {
        self.code = code
        self.data = data
    }

    public init(_ code: DHCPOptionCode, string: String) {
        self.init(code, Array(string.utf8))
    }
}
