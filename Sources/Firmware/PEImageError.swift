/// Why bytes could not be read as a PE/COFF image header. Offsets are relative to the start of the
/// bytes handed to `PEImage(parsing:at:)`'s array (the file, or the option ROM image).
public enum PEImageError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated(field: String, offset: Int, length: Int, available: Int)
    /// The DOS header does not start with "MZ".
    case badDOSSignature(offset: Int, found: UInt16)
    /// e_lfanew does not lead to "PE\0\0".
    case badPESignature(offset: Int, found: UInt32)
    /// Neither PE32 (0x10b) nor PE32+ (0x20b).
    case badOptionalHeaderMagic(offset: Int, found: UInt16)
    /// The optional header is too short to hold the Subsystem field.
    case optionalHeaderTooShort(offset: Int, size: Int, needed: Int)

    public var description: String {
        switch self {
        case let .truncated(field, offset, length, available):
            return "PE \(field) (\(length) bytes at \(OptionROMHex.offset(offset))) runs past the end of the "
                + "\(available) bytes available"
        case let .badDOSSignature(offset, found):
            return "no DOS header at \(OptionROMHex.offset(offset)): found 0x\(OptionROMHex.string(found, width: 4)), "
                + "expected \"MZ\""
        case let .badPESignature(offset, found):
            return "no PE signature at \(OptionROMHex.offset(offset)) (e_lfanew): found "
                + "0x\(OptionROMHex.string(found, width: 8)), expected \"PE\\0\\0\""
        case let .badOptionalHeaderMagic(offset, found):
            return
                "optional header magic at \(OptionROMHex.offset(offset)) is 0x\(OptionROMHex.string(found, width: 4)), "
                + "expected 0x10b (PE32) or 0x20b (PE32+)"
        case let .optionalHeaderTooShort(offset, size, needed):
            return "optional header at \(OptionROMHex.offset(offset)) is \(size) bytes, needs \(needed) for Subsystem"
        }
    }
}
