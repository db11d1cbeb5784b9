/// Why a datagram is not a DHCP message vboot can read. Each case names the field and its offset.
public enum DHCPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than the fixed BOOTP header plus the magic cookie (RFC 2131 §2: 236 + 4 octets).
    case truncatedHeader(length: Int)
    /// The four octets after the header are not 99.130.83.99 (RFC 2131 §3).
    case badMagicCookie(offset: Int)
    /// `hlen` larger than the 16-octet `chaddr` field.
    case badHardwareAddressLength(Int)
    /// An option's length runs past the end of its area.
    case truncatedOption(code: UInt8, offset: Int)
    /// Option 52 names an area that is not 1, 2 or 3 (RFC 2132 §9.3).
    case badOverload(value: UInt8)
    /// A typed option whose payload does not have the shape its RFC gives.
    case malformedOption(code: UInt8, reason: String)

    public var description: String {
        switch self {
        case .truncatedHeader(let length): "datagram of \(length) octets is shorter than a DHCP header (240)"
        case .badMagicCookie(let offset): "no DHCP magic cookie at offset \(offset)"
        case .badHardwareAddressLength(let length): "hlen \(length) exceeds the 16-octet chaddr field"
        case .truncatedOption(let code, let offset): "option \(code) at offset \(offset) runs past the end"
        case .badOverload(let value): "option overload value \(value) is not 1, 2 or 3"
        case .malformedOption(let code, let reason): "option \(code): \(reason)"
        }
    }
}
