/// UEFI Specification, "PCI Option ROMs": EFI_PCI_EXPANSION_ROM_HEADER, the header of a code type 3
/// image.
///
/// ```text
/// 0x00 55 AA                 0x08 EFI subsystem    0x0E reserved (8 bytes)
/// 0x02 initialization size   0x0A machine type     0x16 offset of the EFI image
/// 0x04 EFI signature 0x0EF1  0x0C compression type 0x18 pointer to the PCI data structure
/// ```
public struct EFIROMHeader: Hashable, Sendable {
    public static let signature = OptionROMLegacyHeader.signature
    public static let efiSignature: UInt32 = 0x0EF1
    /// Bytes this type covers (sizeof(EFI_PCI_EXPANSION_ROM_HEADER)).
    public static let length = 0x1A

    /// Image size in 512-byte units (16 bits here, unlike the legacy header's byte).
    public var initializationSize: UInt16
    public var efiSignature: UInt32
    public var subsystem: PESubsystem
    public var machineType: PEMachine
    public var compressionType: EFIROMCompression
    public var reserved: [UInt8]
    /// Offset of the PE image (or its compressed form) from the start of this ROM image.
    public var efiImageOffset: UInt16
    public var pcirPointer: UInt16

    public var hasValidEFISignature: Bool { efiSignature == Self.efiSignature }

    public init(
        initializationSize: UInt16, efiSignature: UInt32 = EFIROMHeader.efiSignature, subsystem: PESubsystem,
        machineType: PEMachine, compressionType: EFIROMCompression, reserved: [UInt8] = Array(repeating: 0, count: 8),
        efiImageOffset: UInt16, pcirPointer: UInt16
    ) {
        self.initializationSize = initializationSize
        self.efiSignature = efiSignature
        self.subsystem = subsystem
        self.machineType = machineType
        self.compressionType = compressionType
        self.reserved = reserved
        self.efiImageOffset = efiImageOffset
        self.pcirPointer = pcirPointer
    }

    /// Reads the header at absolute `offset` of `bytes`; `image` only labels errors. A wrong EFI
    /// signature is kept, not thrown: validation reports it with the rest of the image.
    public init(parsing bytes: [UInt8], at offset: Int, image: Int = 0) throws(OptionROMError) {
        var reader = OptionROMReader(bytes, offset: offset, image: image)
        try reader.readROMSignature()
        initializationSize = try reader.read(UInt16.self, "EFI initialization size")
        efiSignature = try reader.read(UInt32.self, "EFI signature")
        subsystem = PESubsystem(rawValue: try reader.read(UInt16.self, "EFI subsystem"))
        machineType = PEMachine(rawValue: try reader.read(UInt16.self, "EFI machine type"))
        compressionType = EFIROMCompression(rawValue: try reader.read(UInt16.self, "EFI compression type"))
        reserved = try reader.readBytes(8, "EFI reserved")
        efiImageOffset = try reader.read(UInt16.self, "EFI image offset")
        pcirPointer = try reader.read(UInt16.self, "PCIR pointer")
    }

    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        ByteCursor.append(Self.signature, to: &bytes)
        ByteCursor.append(initializationSize, to: &bytes)
        ByteCursor.append(efiSignature, to: &bytes)
        ByteCursor.append(subsystem.rawValue, to: &bytes)
        ByteCursor.append(machineType.rawValue, to: &bytes)
        ByteCursor.append(compressionType.rawValue, to: &bytes)
        bytes.append(contentsOf: reserved)
        ByteCursor.append(efiImageOffset, to: &bytes)
        ByteCursor.append(pcirPointer, to: &bytes)
        return bytes
    }
}

/// EFI_PCI_EXPANSION_ROM_HEADER CompressionType.
public struct EFIROMCompression: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let uncompressed = EFIROMCompression(rawValue: 0)
    /// The UEFI "EFI compression" algorithm (UEFI spec, Compression Algorithm Specification).
    public static let efiCompressed = EFIROMCompression(rawValue: 1)

    public var name: String {
        switch self {
        case .uncompressed: "none"
        case .efiCompressed: "efi"
        default: "unknown(\(rawValue))"
        }
    }

    public var description: String {
        switch self {
        case .uncompressed: "uncompressed"
        case .efiCompressed: "EFI-compressed"
        default: "compression type \(rawValue)"
        }
    }
}
