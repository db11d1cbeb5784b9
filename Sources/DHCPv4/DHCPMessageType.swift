/// RFC 2132 §9.6 DHCP Message Type (option 53).
public struct DHCPMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let discover = Self(rawValue: 1)
    public static let offer = Self(rawValue: 2)
    public static let request = Self(rawValue: 3)
    public static let decline = Self(rawValue: 4)
    public static let ack = Self(rawValue: 5)
    public static let nak = Self(rawValue: 6)
    public static let release = Self(rawValue: 7)
    public static let inform = Self(rawValue: 8)

    public var description: String {
        switch self {
        case .discover: "DISCOVER"
        case .offer: "OFFER"
        case .request: "REQUEST"
        case .decline: "DECLINE"
        case .ack: "ACK"
        case .nak: "NAK"
        case .release: "RELEASE"
        case .inform: "INFORM"
        default: "type-\(rawValue)"
        }
    }
}
