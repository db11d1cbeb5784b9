/// PCI Firmware Specification 3.0 §5.1.1 PCI Expansion ROM Header, as an x86 (BIOS) image uses it.
///
/// ```text
/// 0x00 55 AA   0x02 initialization size (512-byte units)   0x03 entry point + application data
/// 0x18 pointer to the PCI data structure                    0x1A (iPXE, PnP BIOS: PnP header pointer)
/// ```
public struct OptionROMLegacyHeader: Hashable, Sendable {
    /// 55 AA on the wire.
    public static let signature: UInt16 = 0xAA55
    public static let initializationSizeOffset = 0x02
    public static let pcirPointerOffset = 0x18
    /// Bytes this type covers: up to and including the PCIR pointer.
    public static let length = 0x1A
    /// iPXE's own header pointer (iPXE `src/arch/x86/prefix/romprefix.S`, `util/Option/ROM.pm`).
    public static let iPXEHeaderPointerOffset = 0x10
    /// iPXE keeps a dedicated checksum-correction byte here (`util/Option/ROM.pm` field "checksum").
    public static let iPXEChecksumOffset = 0x06

    /// Bytes the BIOS copies and checksums, in 512-byte units.
    public var initializationSize: UInt8
    /// Offsets 0x03-0x17: the entry point jump and application-specific data, kept verbatim.
    public var entryAndApplicationData: [UInt8]
    public var pcirPointer: UInt16

    public var initializationByteCount: Int { Int(initializationSize) * PCIDataStructure.imageLengthUnit }

    public init(initializationSize: UInt8, entryAndApplicationData: [UInt8], pcirPointer: UInt16) {
        self.initializationSize = initializationSize
        self.entryAndApplicationData = entryAndApplicationData
        self.pcirPointer = pcirPointer
    }

    /// Reads the header at absolute `offset` of `bytes`; `image` only labels errors.
    public init(parsing bytes: [UInt8], at offset: Int, image: Int = 0) throws(OptionROMError) {
        var reader = OptionROMReader(bytes, offset: offset, image: image)
        try reader.readROMSignature()
        initializationSize = try reader.read(UInt8.self, "initialization size")
        entryAndApplicationData = try reader.readBytes(Self.pcirPointerOffset - 3, "entry point")
        pcirPointer = try reader.read(UInt16.self, "PCIR pointer")
    }

    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        ByteCursor.append(Self.signature, to: &bytes)
        bytes.append(initializationSize)
        bytes.append(contentsOf: entryAndApplicationData)
        ByteCursor.append(pcirPointer, to: &bytes)
        return bytes
    }
}
