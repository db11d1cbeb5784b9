/// An IPv4 address as it travels in DHCP: four octets, network order.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a host-order integer (`10.0.0.1` is `0x0A00_0001`).
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text; nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let octet = UInt8(part)
            else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.rawValue = value
    }

    public static let any = IPv4Address(rawValue: 0)
    public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

    public var octets: [UInt8] {
        [
            UInt8(rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
            UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue),
        ]
    }

    public var isAny: Bool { rawValue == 0 }

    /// Dotted quad, built in place (no per-octet strings).
    public var description: String {
        String(unsafeUninitializedCapacity: 15) { out in
            var index = 0
            for position in 0..<4 {
                let octet = UInt8(truncatingIfNeeded: rawValue >> (24 - 8 * position))
                if position > 0 {
                    out[index] = UInt8(ascii: ".")
                    index += 1
                }
                if octet >= 100 {
                    out[index] = UInt8(ascii: "0") + octet / 100
                    index += 1
                }
                if octet >= 10 {
                    out[index] = UInt8(ascii: "0") + (octet / 10) % 10
                    index += 1
                }
                out[index] = UInt8(ascii: "0") + octet % 10
                index += 1
            }
            return index
        }
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.rawValue < rhs.rawValue }
}
