/// UEFI 2.10 §3.3 BootOrder: an array of UINT16 option numbers (Boot####), first tried first.
/// BootNext is a single UINT16 with the same meaning for the next boot only.
public struct EFIBootOrder: Hashable, Sendable {
    public var entries: [UInt16]

    public init(_ entries: [UInt16]) { self.entries = entries }

    public init(parsing bytes: [UInt8]) throws(EFILoadOptionError) {
        guard bytes.count % 2 == 0 else {
            throw .badValue(field: "BootOrder", offset: 0, detail: "\(bytes.count) bytes is not a UINT16 array")
        }
        entries = stride(from: 0, to: bytes.count, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries { ByteCursor.append(entry, to: &bytes) }
        return bytes
    }

    /// Puts `number` first, removing it from later positions.
    public mutating func moveToFront(_ number: UInt16) {
        entries.removeAll { $0 == number }
        entries.insert(number, at: 0)
    }

    /// Appends `number` unless it is already listed.
    public mutating func appendIfMissing(_ number: UInt16) {
        if !entries.contains(number) { entries.append(number) }
    }

    /// UEFI 2.10 §3.3 variable names, in EFI_GLOBAL_VARIABLE.
    public static let bootOrderName = "BootOrder"
    public static let bootNextName = "BootNext"

    /// "Boot" followed by four upper-case hex digits, as the spec requires (Boot000A, not Boot000a).
    public static func bootOptionName(_ number: UInt16) -> String {
        let hex = String(number, radix: 16, uppercase: true)
        return "Boot" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// The option number of a `Boot####` name, nil for anything else (BootOrder, BootNext, Boot000a).
    public static func bootOptionNumber(_ name: String) -> UInt16? {
        guard name.count == 8, name.hasPrefix("Boot") else { return nil }
        let digits = name.dropFirst(4)
        guard digits.allSatisfy({ $0.isNumber || ("A"..."F").contains($0) }) else { return nil }
        return UInt16(digits, radix: 16)
    }

    /// BootNext data for `number`.
    public static func bootNextData(_ number: UInt16) -> [UInt8] { EFIBootOrder([number]).encoded() }
}
