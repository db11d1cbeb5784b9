/// PE/COFF "Machine" field values that UEFI images use (Microsoft PE Format §"Machine Types";
/// UEFI spec §2.1.1 lists which ones firmware for each architecture loads).
public struct PEMachine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ia32 = PEMachine(rawValue: 0x014C)
    public static let x64 = PEMachine(rawValue: 0x8664)
    public static let aarch64 = PEMachine(rawValue: 0xAA64)
    /// ARM Thumb-2 little-endian: what 32-bit ARM UEFI images declare.
    public static let armThumb2 = PEMachine(rawValue: 0x01C2)
    public static let riscV64 = PEMachine(rawValue: 0x5064)
    public static let loongArch64 = PEMachine(rawValue: 0x6264)
    /// EFI Byte Code: architecture-independent option ROM drivers.
    public static let ebc = PEMachine(rawValue: 0x0EBC)

    /// Short stable name, used in JSON.
    public var name: String {
        switch self {
        case .ia32: "ia32"
        case .x64: "x64"
        case .aarch64: "aarch64"
        case .armThumb2: "arm"
        case .riscV64: "riscv64"
        case .loongArch64: "loongarch64"
        case .ebc: "ebc"
        default: "unknown(0x\(OptionROMHex.string(rawValue, width: 4)))"
        }
    }

    public var description: String {
        switch self {
        case .ia32: "IA32"
        case .x64: "x64"
        case .aarch64: "AArch64"
        case .armThumb2: "ARM"
        case .riscV64: "RISC-V 64"
        case .loongArch64: "LoongArch64"
        case .ebc: "EBC"
        default: "machine 0x\(OptionROMHex.string(rawValue, width: 4))"
        }
    }
}

/// PE optional header "Subsystem" values for UEFI images (Microsoft PE Format §"Windows Subsystem").
public struct PESubsystem: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let efiApplication = PESubsystem(rawValue: 10)
    public static let efiBootServiceDriver = PESubsystem(rawValue: 11)
    public static let efiRuntimeDriver = PESubsystem(rawValue: 12)
    public static let efiROM = PESubsystem(rawValue: 13)

    /// Short stable name, used in JSON.
    public var name: String {
        switch self {
        case .efiApplication: "efiApplication"
        case .efiBootServiceDriver: "efiBootServiceDriver"
        case .efiRuntimeDriver: "efiRuntimeDriver"
        case .efiROM: "efiROM"
        default: "unknown(\(rawValue))"
        }
    }

    public var description: String {
        switch self {
        case .efiApplication: "EFI application"
        case .efiBootServiceDriver: "EFI boot service driver"
        case .efiRuntimeDriver: "EFI runtime driver"
        case .efiROM: "EFI ROM"
        default: "subsystem \(rawValue)"
        }
    }
}
