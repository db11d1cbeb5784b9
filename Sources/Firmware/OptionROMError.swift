/// Why a file could not be read as a PCI expansion ROM, or why a combination was refused.
/// Offsets are absolute file offsets; `image` counts from 0.
public enum OptionROMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file is empty.
    case empty
    /// `length` bytes of `field` at `offset` run past the end of the `fileSize`-byte file.
    case truncated(image: Int, field: String, offset: Int, length: Int, fileSize: Int)
    /// The ROM header signature at `offset` is not 55 AA.
    case badROMSignature(image: Int, offset: Int, found: UInt16)
    /// The PCI data structure pointer leads to something other than "PCIR".
    case badPCIRSignature(image: Int, offset: Int, found: [UInt8])
    /// A pointer inside the image (PCIR, device list, EFI image) points outside the image.
    case pointerOutsideImage(image: Int, field: String, offset: Int, pointer: Int, imageLength: Int)
    /// The PCIR image length is 0, so the next image cannot be found.
    case zeroImageLength(image: Int, offset: Int)
    /// The image's declared length (PCIR image length × 512) ends past the end of the file.
    case imageRunsPastEnd(image: Int, offset: Int, length: Int, fileSize: Int)
    /// Combining needs at least one image.
    case nothingToCombine
    /// A legacy input image's checksum is already wrong; combining would hide that.
    case inputChecksumInvalid(image: Int, sum: UInt8)
    /// The byte chosen to carry the checksum correction lies outside the checksummed area, or on a
    /// header or PCIR field.
    case checksumByteOutsideImage(image: Int, offset: Int, checksummedLength: Int)

    public var description: String {
        switch self {
        case .empty:
            return "file is empty"
        case let .truncated(image, field, offset, length, fileSize):
            return "image \(image): \(field) (\(length) bytes at \(OptionROMHex.offset(offset))) runs past the end "
                + "of the \(fileSize)-byte file"
        case let .badROMSignature(image, offset, found):
            return "image \(image) at \(OptionROMHex.offset(offset)): ROM signature is "
                + "\(OptionROMHex.string(found & 0xFF, width: 2)) \(OptionROMHex.string(found >> 8, width: 2)), "
                + "expected 55 aa"
        case let .badPCIRSignature(image, offset, found):
            let text = found.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            return "image \(image): PCI data structure at \(OptionROMHex.offset(offset)) starts with \"\(text)\", "
                + "expected \"PCIR\""
        case let .pointerOutsideImage(image, field, offset, pointer, imageLength):
            return "image \(image) at \(OptionROMHex.offset(offset)): \(field) \(OptionROMHex.offset(pointer)) "
                + "points outside the \(imageLength)-byte image"
        case let .zeroImageLength(image, offset):
            return "image \(image) at \(OptionROMHex.offset(offset)): PCIR image length is 0"
        case let .imageRunsPastEnd(image, offset, length, fileSize):
            return "image \(image) at \(OptionROMHex.offset(offset)): image length \(length / 512) × 512 = "
                + "\(length) bytes ends at \(OptionROMHex.offset(offset + length)), past the end of the "
                + "\(fileSize)-byte file (\(OptionROMHex.offset(fileSize)))"
        case .nothingToCombine:
            return "nothing to combine: no images given"
        case let .inputChecksumInvalid(image, sum):
            return "input image \(image): checksum is already wrong (bytes sum to "
                + "0x\(OptionROMHex.string(sum, width: 2)), must be 0x00); refusing to combine"
        case let .checksumByteOutsideImage(image, offset, checksummedLength):
            return "image \(image): cannot put the checksum correction at \(OptionROMHex.offset(offset)): outside "
                + "the \(checksummedLength)-byte checksummed area, or on a header or PCIR field"
        }
    }
}
