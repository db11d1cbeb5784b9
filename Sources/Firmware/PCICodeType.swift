/// PCI Firmware Specification 3.0 §5.1.3, PCI Data Structure "Code Type": which firmware runs the image.
public struct PCICodeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Intel x86, PC-AT compatible: a BIOS option ROM (SeaBIOS, CSM).
    public static let x86 = PCICodeType(rawValue: 0)
    /// Open Firmware standard for PCI (IEEE 1275).
    public static let openFirmware = PCICodeType(rawValue: 1)
    /// Hewlett-Packard PA RISC.
    public static let hpPARISC = PCICodeType(rawValue: 2)
    /// Extensible Firmware Interface: header per UEFI spec "EFI PCI Expansion ROM Header".
    public static let efi = PCICodeType(rawValue: 3)

    /// Short stable name, used in JSON.
    public var name: String {
        switch self {
        case .x86: "x86"
        case .openFirmware: "openFirmware"
        case .hpPARISC: "hpPARISC"
        case .efi: "efi"
        default: "unknown(\(rawValue))"
        }
    }

    public var description: String {
        switch self {
        case .x86: "x86 legacy (BIOS)"
        case .openFirmware: "Open Firmware"
        case .hpPARISC: "HP PA-RISC"
        case .efi: "EFI"
        default: "code type \(rawValue)"
        }
    }
}
