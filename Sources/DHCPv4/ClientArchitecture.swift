/// RFC 4578 §2.1 Client System Architecture Type (option 93), values from IANA's
/// "Processor Architecture Types" registry.
public struct ClientArchitecture: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let x86BIOS = Self(0)
    public static let efiIA32 = Self(6)
    public static let efiX86_64 = Self(7)
    public static let efiXScale = Self(8)
    /// Registered as "EFI BC"; firmware in the field sends it for x86-64 UEFI.
    public static let efiBC = Self(9)
    public static let efiARM32 = Self(10)
    public static let efiARM64 = Self(11)
    public static let efiIA32HTTP = Self(15)
    public static let efiX86_64HTTP = Self(16)
    public static let efiBCHTTP = Self(17)
    public static let efiARM32HTTP = Self(18)
    public static let efiARM64HTTP = Self(19)
    public static let x86BIOSHTTP = Self(20)
    public static let ubootARM32 = Self(21)
    public static let ubootARM64 = Self(22)
    public static let efiRISCV32 = Self(25)
    public static let efiRISCV32HTTP = Self(26)
    public static let efiRISCV64 = Self(27)
    public static let efiRISCV64HTTP = Self(28)
    public static let efiLoongArch64 = Self(39)
    public static let efiLoongArch64HTTP = Self(40)

    public var description: String {
        switch self {
        case .x86BIOS: "x86 BIOS"
        case .efiIA32: "IA32 UEFI"
        case .efiX86_64: "x86-64 UEFI"
        case .efiXScale: "XScale UEFI"
        case .efiBC: "EFI BC (x86-64 UEFI)"
        case .efiARM32: "ARM32 UEFI"
        case .efiARM64: "ARM64 UEFI"
        case .efiIA32HTTP: "IA32 UEFI HTTP"
        case .efiX86_64HTTP: "x86-64 UEFI HTTP"
        case .efiBCHTTP: "EFI BC HTTP"
        case .efiARM32HTTP: "ARM32 UEFI HTTP"
        case .efiARM64HTTP: "ARM64 UEFI HTTP"
        case .x86BIOSHTTP: "x86 BIOS HTTP"
        case .ubootARM32: "ARM32 U-Boot"
        case .ubootARM64: "ARM64 U-Boot"
        case .efiRISCV32: "RISC-V 32 UEFI"
        case .efiRISCV32HTTP: "RISC-V 32 UEFI HTTP"
        case .efiRISCV64: "RISC-V 64 UEFI"
        case .efiRISCV64HTTP: "RISC-V 64 UEFI HTTP"
        case .efiLoongArch64: "LoongArch64 UEFI"
        case .efiLoongArch64HTTP: "LoongArch64 UEFI HTTP"
        default: "arch \(rawValue)"
        }
    }

    /// Option 93 is a list of 16-bit types; clients send one in practice.
    public static func parseList(_ data: [UInt8]) throws(DHCPParseError) -> [ClientArchitecture] {
        guard !data.isEmpty, data.count % 2 == 0 else {
            throw .malformedOption(
                code: DHCPOptionCode.clientSystemArchitecture.rawValue,
                reason: "length \(data.count) is not a positive multiple of 2")
        }
        return stride(from: 0, to: data.count, by: 2).map { Self(UInt16(data[$0]) << 8 | UInt16(data[$0 + 1])) }
    }

    public static func encodeList(_ list: [ClientArchitecture]) -> [UInt8] {
        list.flatMap { [UInt8($0.rawValue >> 8), UInt8(truncatingIfNeeded: $0.rawValue)] }
    }
}
