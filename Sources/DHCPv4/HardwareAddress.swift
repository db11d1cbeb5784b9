/// A client hardware address (`chaddr`), normally a 6-octet Ethernet MAC.
public struct HardwareAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Accepts `52:54:00:aa:00:01`, `52-54-00-AA-00-01` or `525400aa0001`.
    public init?(_ text: some StringProtocol) {
        let hex = String(text.filter { $0 != ":" && $0 != "-" })
        guard hex.count == 12, hex.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.bytes = bytes
    }

    /// `52:54:00:aa:00:01`.
    public var description: String { formatted(separator: ":") }

    /// `52-54-00-aa-00-01`: the spelling vboot uses in file names and URLs.
    public var hyphenated: String { formatted(separator: "-") }

    /// Two lower-case hex digits per octet; built in place (this runs for every iPXE boot URL
    /// the proxy hands out, and the map-and-join version made fifteen allocations).
    public func formatted(separator: String) -> String {
        guard separator.utf8.count == 1, let mark = separator.utf8.first else {
            return bytes.map { Self.hex($0) }.joined(separator: separator)
        }
        let count = bytes.isEmpty ? 0 : bytes.count * 3 - 1
        return String(unsafeUninitializedCapacity: count) { out in
            let digits: StaticString = "0123456789abcdef"
            var index = 0
            for (position, byte) in bytes.enumerated() {
                if position > 0 {
                    out[index] = mark
                    index += 1
                }
                out[index] = digits.utf8Start[Int(byte >> 4)]
                out[index + 1] = digits.utf8Start[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
