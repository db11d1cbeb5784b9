/// One image of a PCI expansion ROM: its bytes (exactly PCIR image length × 512) and what they say.
/// Built only by parsing, so the parsed fields always describe `bytes`.
public struct OptionROMImage: Hashable, Sendable {
    /// The image's header, by code type.
    public enum Header: Hashable, Sendable {
        /// Code type 0: BIOS header with initialization size and checksum.
        case legacy(OptionROMLegacyHeader)
        /// Code type 3: EFI PCI expansion ROM header.
        case efi(EFIROMHeader)
        /// Other code types (Open Firmware, PA-RISC, unknown): only the PCIR is interpreted.
        case other
    }

    /// Position in the ROM, from 0.
    public let index: Int
    /// File offset of the image's 55 AA.
    public let offset: Int
    public let bytes: [UInt8]
    public let header: Header
    /// Offset of the PCIR from the start of the image.
    public let pcirPointer: UInt16
    public let pcir: PCIDataStructure
    /// PCI 3.0 device list: further device IDs this image supports (empty when absent).
    public let deviceList: [UInt16]
    /// Filler bytes appended by `OptionROM(parsing:padShortLastImage:)`; 0 for images read whole.
    public let paddedByteCount: Int

    public var codeType: PCICodeType { pcir.codeType }
    public var isLastImage: Bool { pcir.isLastImage }
    /// The primary ID and every ID in the device list.
    public var supportedPCIIDs: [PCIID] {
        [pcir.pciID] + deviceList.filter { $0 != pcir.deviceID }.map { PCIID(vendor: pcir.vendorID, device: $0) }
    }

    public var legacyHeader: OptionROMLegacyHeader? {
        if case .legacy(let header) = header { header } else { nil }
    }

    public var efiHeader: EFIROMHeader? {
        if case .efi(let header) = header { header } else { nil }
    }

    /// Bytes a BIOS sums for a legacy image: its initialization size, capped at the image. nil otherwise.
    public var checksummedLength: Int? {
        guard let legacyHeader else { return nil }
        return min(legacyHeader.initializationByteCount, bytes.count)
    }

    /// 8-bit sum over `checksummedLength` bytes; 0 is valid. nil for non-legacy images.
    public var checksum: UInt8? {
        guard let checksummedLength else { return nil }
        return Self.sum(bytes[0..<checksummedLength])
    }

    /// True when the image carries iPXE's header (pointer at 0x10 to "iPXE").
    public var isIPXE: Bool {
        guard legacyHeader != nil,
            let pointer: UInt16 = try? ByteCursor.integer(
                in: bytes, at: OptionROMLegacyHeader.iPXEHeaderPointerOffset, "iPXE header pointer"),
            Int(pointer) + 4 <= bytes.count
        else { return false }
        return Array(bytes[Int(pointer)..<Int(pointer) + 4]) == Array("iPXE".utf8)
    }

    /// The PE image inside an uncompressed EFI image, or why it could not be read; nil when there is
    /// none to read (not EFI, or compressed).
    public var peImage: Result<PEImage, PEImageError>? {
        guard let efiHeader, efiHeader.compressionType == .uncompressed else { return nil }
        return Result { () throws(PEImageError) in try PEImage(parsing: bytes, at: Int(efiHeader.efiImageOffset)) }
    }

    static func sum<C: Collection<UInt8>>(_ bytes: C) -> UInt8 { bytes.reduce(0, &+) }

    /// Reads the image starting at absolute `offset` of `file`. With `padding`, an image whose declared
    /// length runs past the end of the file is completed with that byte instead of rejected.
    public init(parsing file: [UInt8], at offset: Int, index: Int = 0, padding: UInt8? = nil) throws(OptionROMError) {
        var reader = OptionROMReader(file, offset: offset, image: index)
        try reader.readROMSignature()
        let pcirPointer: UInt16 = try reader.integer(
            at: offset + OptionROMLegacyHeader.pcirPointerOffset, "PCIR pointer")
        let pcir = try PCIDataStructure(parsing: file, at: offset + Int(pcirPointer), image: index)
        let length = pcir.imageByteCount
        guard length > 0 else { throw .zeroImageLength(image: index, offset: offset) }
        guard Int(pcirPointer) + Int(pcir.length) <= length else {
            throw .pointerOutsideImage(
                image: index, field: "PCIR pointer", offset: offset, pointer: Int(pcirPointer), imageLength: length)
        }
        var bytes: [UInt8]
        if offset + length <= file.count {
            bytes = Array(file[offset..<offset + length])
        } else if let padding {
            bytes = Array(file[offset...]) + [UInt8](repeating: padding, count: offset + length - file.count)
        } else {
            throw .imageRunsPastEnd(image: index, offset: offset, length: length, fileSize: file.count)
        }
        self.paddedByteCount = length - min(length, file.count - offset)

        switch pcir.codeType {
        case .efi: header = .efi(try EFIROMHeader(parsing: bytes, at: 0, image: index))
        case .x86: header = .legacy(try OptionROMLegacyHeader(parsing: bytes, at: 0, image: index))
        default: header = .other
        }

        var deviceList: [UInt16] = []
        if pcir.hasPCI3Fields && pcir.deviceListPointer != 0 {
            var entry = Int(pcirPointer) + Int(pcir.deviceListPointer)
            while true {
                guard entry + 2 <= length else {
                    throw .pointerOutsideImage(
                        image: index, field: "PCIR device list", offset: offset,
                        pointer: Int(pcirPointer) + Int(pcir.deviceListPointer), imageLength: length)
                }
                let device = UInt16(bytes[entry]) | UInt16(bytes[entry + 1]) << 8
                if device == 0 { break }
                deviceList.append(device)
                entry += 2
            }
        }

        self.index = index
        self.offset = offset
        self.bytes = bytes
        self.pcirPointer = pcirPointer
        self.pcir = pcir
        self.deviceList = deviceList
    }
}
