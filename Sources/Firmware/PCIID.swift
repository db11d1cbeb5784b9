/// A PCI vendor:device pair, written the way lspci and QEMU print it ("8086:100e").
public struct PCIID: Hashable, Sendable, CustomStringConvertible, Codable {
    public var vendor: UInt16
    public var device: UInt16

    public init(vendor: UInt16, device: UInt16) {
        self.vendor = vendor
        self.device = device
    }

    /// Parses "vvvv:dddd" (hex, optional "0x" on either half) or iPXE's file-name form "vvvvdddd".
    public init?(_ text: String) {
        let halves: [Substring]
        if text.contains(":") {
            halves = text.split(separator: ":", omittingEmptySubsequences: false)
        } else if text.count == 8 {
            halves = [text.prefix(4), text.suffix(4)]
        } else {
            return nil
        }
        func hex(_ part: Substring) -> UInt16? {
            let digits = part.hasPrefix("0x") || part.hasPrefix("0X") ? part.dropFirst(2) : part
            guard (1...4).contains(digits.count) else { return nil }
            return UInt16(digits, radix: 16)
        }
        guard halves.count == 2, let vendor = hex(halves[0]), let device = hex(halves[1]) else { return nil }
        self.init(vendor: vendor, device: device)
    }

    public var description: String {
        "\(OptionROMHex.string(vendor, width: 4)):\(OptionROMHex.string(device, width: 4))"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = PCIID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a PCI ID: \(text)")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Lower-case hex formatting shared by the option ROM and PE descriptions.
enum OptionROMHex {
    static func string<T: BinaryInteger>(_ value: T, width: Int) -> String {
        let digits = String(value, radix: 16)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// "0x12600": offsets as an admin would type them into xxd -s.
    static func offset<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
}
