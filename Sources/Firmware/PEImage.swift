/// The headers of a PE/COFF image as UEFI loads it (Microsoft PE Format; UEFI spec §2.1.1): enough to
/// tell which firmware can run an ipxe.efi, snponly.efi or the image inside an EFI option ROM.
///
/// Parse-only on purpose: vboot never writes PE files, it copies them whole.
public struct PEImage: Hashable, Sendable {
    /// "MZ", the DOS header signature.
    public static let dosSignature: UInt16 = 0x5A4D
    /// Offset of e_lfanew in the DOS header.
    public static let lfanewOffset = 0x3C
    /// "PE\0\0".
    public static let peSignature: UInt32 = 0x0000_4550
    /// COFF file header size, after the PE signature.
    public static let coffHeaderSize = 20
    /// Size of one section table entry.
    public static let sectionHeaderSize = 40
    /// Subsystem sits at the same offset in the PE32 and PE32+ optional headers.
    static let subsystemOffset = 68

    /// Where the image starts in the array it was parsed from.
    public var base: Int
    /// e_lfanew: offset of "PE\0\0" from `base`.
    public var peHeaderOffset: UInt32
    public var machine: PEMachine
    public var numberOfSections: UInt16
    public var timeDateStamp: UInt32
    public var sizeOfOptionalHeader: UInt16
    public var characteristics: UInt16
    public var optionalHeaderMagic: PEOptionalHeaderMagic
    public var addressOfEntryPoint: UInt32
    public var sizeOfImage: UInt32
    public var subsystem: PESubsystem
    public var sections: [PESection]

    /// Bytes the image occupies on disk: its headers and every section's raw data.
    public var fileSize: Int {
        let headerEnd =
            Int(peHeaderOffset) + 4 + Self.coffHeaderSize + Int(sizeOfOptionalHeader)
            + sections.count * Self.sectionHeaderSize
        return sections.reduce(headerEnd) { max($0, Int($1.pointerToRawData) + Int($1.sizeOfRawData)) }
    }

    public init(parsing bytes: [UInt8], at base: Int = 0) throws(PEImageError) {
        func read<T: FixedWidthInteger>(_ offset: Int, _ field: String) throws(PEImageError) -> T {
            do {
                return try ByteCursor.integer(in: bytes, at: offset, field)
            } catch {
                throw .truncated(field: field, offset: offset, length: MemoryLayout<T>.size, available: bytes.count)
            }
        }
        self.base = base
        let dos: UInt16 = try read(base, "DOS signature")
        guard dos == Self.dosSignature else { throw .badDOSSignature(offset: base, found: dos) }
        peHeaderOffset = try read(base + Self.lfanewOffset, "e_lfanew")

        let pe = base + Int(peHeaderOffset)
        let signature: UInt32 = try read(pe, "PE signature")
        guard signature == Self.peSignature else { throw .badPESignature(offset: pe, found: signature) }
        let coff = pe + 4
        machine = PEMachine(rawValue: try read(coff, "Machine"))
        numberOfSections = try read(coff + 2, "NumberOfSections")
        timeDateStamp = try read(coff + 4, "TimeDateStamp")
        sizeOfOptionalHeader = try read(coff + 16, "SizeOfOptionalHeader")
        characteristics = try read(coff + 18, "Characteristics")

        let optional = coff + Self.coffHeaderSize
        let magic: UInt16 = try read(optional, "optional header Magic")
        guard let known = PEOptionalHeaderMagic(rawValue: magic) else {
            throw .badOptionalHeaderMagic(offset: optional, found: magic)
        }
        optionalHeaderMagic = known
        guard Int(sizeOfOptionalHeader) >= Self.subsystemOffset + 2 else {
            throw .optionalHeaderTooShort(
                offset: optional, size: Int(sizeOfOptionalHeader), needed: Self.subsystemOffset + 2)
        }
        addressOfEntryPoint = try read(optional + 16, "AddressOfEntryPoint")
        sizeOfImage = try read(optional + 56, "SizeOfImage")
        subsystem = PESubsystem(rawValue: try read(optional + Self.subsystemOffset, "Subsystem"))

        let table = optional + Int(sizeOfOptionalHeader)
        var sections: [PESection] = []
        for index in 0..<Int(numberOfSections) {
            let entry = table + index * Self.sectionHeaderSize
            guard entry + Self.sectionHeaderSize <= bytes.count else {
                throw .truncated(
                    field: "section header \(index)", offset: entry, length: Self.sectionHeaderSize,
                    available: bytes.count)
            }
            let nameBytes = bytes[entry..<entry + 8].prefix { $0 != 0 }
            sections.append(
                PESection(
                    name: String(decoding: nameBytes, as: UTF8.self),
                    virtualSize: try read(entry + 8, "VirtualSize"),
                    virtualAddress: try read(entry + 12, "VirtualAddress"),
                    sizeOfRawData: try read(entry + 16, "SizeOfRawData"),
                    pointerToRawData: try read(entry + 20, "PointerToRawData")))
        }
        self.sections = sections
    }

    /// Lines an admin can read, e.g. "PE32+ x64, EFI application, 6 sections (.text .rodata …)".
    public func describe() -> [String] { OptionROMInspection.PE(self).describe() }
}

/// Optional header magic: which layout (32- or 64-bit fields) follows.
public enum PEOptionalHeaderMagic: UInt16, Hashable, Sendable, CustomStringConvertible {
    case pe32 = 0x10B
    case pe32Plus = 0x20B

    public var description: String {
        switch self {
        case .pe32: "PE32"
        case .pe32Plus: "PE32+"
        }
    }
}

/// One section table entry (the fields vboot shows).
public struct PESection: Hashable, Sendable, Codable {
    public var name: String
    public var virtualSize: UInt32
    public var virtualAddress: UInt32
    public var sizeOfRawData: UInt32
    public var pointerToRawData: UInt32
}
