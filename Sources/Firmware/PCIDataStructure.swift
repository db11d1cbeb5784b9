/// PCI Firmware Specification 3.0 §5.1.3 PCI Data Structure ("PCIR"), found through the 16-bit pointer
/// at offset 0x18 of every expansion ROM image header.
///
/// ```text
/// 0x00 "PCIR"              0x0D class code (prog-if, subclass, base class)
/// 0x04 vendor ID           0x10 image length (512-byte units)
/// 0x06 device ID           0x12 code revision
/// 0x08 device list pointer 0x14 code type
/// 0x0A structure length    0x15 indicator (bit 7 = last image)
/// 0x0C structure revision  0x16 max runtime image length (PCI 2.x: reserved)
///                          0x18 config utility header, 0x1A DMTF CLP entry point (PCI 3.0 only)
/// ```
public struct PCIDataStructure: Hashable, Sendable {
    public static let signature: [UInt8] = Array("PCIR".utf8)
    /// Length of the PCI 2.x structure; PCI 3.0 adds three 16-bit fields.
    public static let pci2Length = 0x18
    public static let pci3Length = 0x1C
    /// Bit 7 of the indicator: this is the last image in the ROM.
    public static let lastImageIndicator: UInt8 = 0x80
    /// Image lengths count 512-byte units.
    public static let imageLengthUnit = 512
    /// Field offsets the combiner patches in place.
    public static let indicatorOffset = 0x15

    public var vendorID: UInt16
    public var deviceID: UInt16
    /// PCI 3.0: offset from the start of this structure to a 0-terminated list of further device IDs
    /// (0 = none). PCI 2.x called this field reserved.
    public var deviceListPointer: UInt16
    public var length: UInt16
    public var revision: UInt8
    /// Programming interface, subclass, base class, in that (wire) order.
    public var classCode: [UInt8]
    public var imageLength: UInt16
    public var codeRevision: UInt16
    public var codeType: PCICodeType
    public var indicator: UInt8
    /// PCI 3.0 maximum run-time image length; in a 2.x structure the reserved word, kept as read.
    public var maxRuntimeImageLength: UInt16
    /// PCI 3.0 pointers; zero in a 2.x structure.
    public var configUtilityCodeHeaderPointer: UInt16
    public var dmtfCLPEntryPointPointer: UInt16

    public var pciID: PCIID { PCIID(vendor: vendorID, device: deviceID) }
    public var isLastImage: Bool { indicator & Self.lastImageIndicator != 0 }
    public var imageByteCount: Int { Int(imageLength) * Self.imageLengthUnit }
    /// PCI 3.0 fields are present when the structure says revision 3 and is long enough to hold them.
    public var hasPCI3Fields: Bool { revision >= 3 && Int(length) >= Self.pci3Length }
    /// "020000": base class, subclass, programming interface, as lspci prints it.
    public var classCodeText: String {
        classCode.reversed().map { OptionROMHex.string($0, width: 2) }.joined()
    }

    public init(
        vendorID: UInt16, deviceID: UInt16, deviceListPointer: UInt16 = 0, length: UInt16 = UInt16(pci3Length),
        revision: UInt8 = 3, classCode: [UInt8], imageLength: UInt16, codeRevision: UInt16 = 0,
        codeType: PCICodeType, indicator: UInt8, maxRuntimeImageLength: UInt16 = 0,
        configUtilityCodeHeaderPointer: UInt16 = 0, dmtfCLPEntryPointPointer: UInt16 = 0
    ) {
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.deviceListPointer = deviceListPointer
        self.length = length
        self.revision = revision
        self.classCode = classCode
        self.imageLength = imageLength
        self.codeRevision = codeRevision
        self.codeType = codeType
        self.indicator = indicator
        self.maxRuntimeImageLength = maxRuntimeImageLength
        self.configUtilityCodeHeaderPointer = configUtilityCodeHeaderPointer
        self.dmtfCLPEntryPointPointer = dmtfCLPEntryPointPointer
    }

    /// Reads the structure at absolute `offset` of `bytes`; `image` only labels errors.
    public init(parsing bytes: [UInt8], at offset: Int, image: Int = 0) throws(OptionROMError) {
        var reader = OptionROMReader(bytes, offset: offset, image: image)
        let signature = try reader.readBytes(4, "PCIR signature")
        guard signature == Self.signature else {
            throw .badPCIRSignature(image: image, offset: offset, found: signature)
        }
        vendorID = try reader.read(UInt16.self, "PCIR vendor ID")
        deviceID = try reader.read(UInt16.self, "PCIR device ID")
        deviceListPointer = try reader.read(UInt16.self, "PCIR device list pointer")
        length = try reader.read(UInt16.self, "PCIR length")
        revision = try reader.read(UInt8.self, "PCIR revision")
        classCode = try reader.readBytes(3, "PCIR class code")
        imageLength = try reader.read(UInt16.self, "PCIR image length")
        codeRevision = try reader.read(UInt16.self, "PCIR code revision")
        codeType = PCICodeType(rawValue: try reader.read(UInt8.self, "PCIR code type"))
        indicator = try reader.read(UInt8.self, "PCIR indicator")
        maxRuntimeImageLength = try reader.read(UInt16.self, "PCIR max runtime image length")
        if revision >= 3 && Int(length) >= Self.pci3Length {
            configUtilityCodeHeaderPointer = try reader.read(UInt16.self, "PCIR config utility code header")
            dmtfCLPEntryPointPointer = try reader.read(UInt16.self, "PCIR DMTF CLP entry point")
        } else {
            configUtilityCodeHeaderPointer = 0
            dmtfCLPEntryPointPointer = 0
        }
    }

    /// The structure's bytes: 0x18 long, or 0x1C when it carries the PCI 3.0 fields.
    public func encode() -> [UInt8] {
        var bytes = Self.signature
        ByteCursor.append(vendorID, to: &bytes)
        ByteCursor.append(deviceID, to: &bytes)
        ByteCursor.append(deviceListPointer, to: &bytes)
        ByteCursor.append(length, to: &bytes)
        bytes.append(revision)
        bytes.append(contentsOf: classCode.prefix(3))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 3 - min(3, classCode.count)))
        ByteCursor.append(imageLength, to: &bytes)
        ByteCursor.append(codeRevision, to: &bytes)
        bytes.append(codeType.rawValue)
        bytes.append(indicator)
        ByteCursor.append(maxRuntimeImageLength, to: &bytes)
        if hasPCI3Fields {
            ByteCursor.append(configUtilityCodeHeaderPointer, to: &bytes)
            ByteCursor.append(dmtfCLPEntryPointPointer, to: &bytes)
        }
        return bytes
    }
}
