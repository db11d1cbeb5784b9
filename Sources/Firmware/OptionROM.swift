/// A PCI expansion ROM file: a chain of images (PCI Firmware Specification 3.0 §5.1), each starting
/// with 55 AA on a 512-byte boundary, the last one flagged in its PCIR indicator. QEMU's `romfile=`,
/// a NIC's flash and iPXE's `bin/*.rom` / `*.efirom` all have this shape.
public struct OptionROM: Hashable, Sendable {
    public let images: [OptionROMImage]
    /// Bytes after the image chain: after the last-image indicator, or where no 55 AA follows.
    public let trailingBytes: [UInt8]

    /// Reads every image. The first must be an image; a later position without 55 AA ends the chain
    /// (a BIOS stops there too) and validation reports the missing last-image indicator.
    /// With `padShortLastImage`, a final image shorter than its declared length is completed with that
    /// byte (for unpadded build outputs); otherwise it is an error.
    public init(parsing bytes: [UInt8], padShortLastImage padding: UInt8? = nil) throws(OptionROMError) {
        guard !bytes.isEmpty else { throw .empty }
        var images: [OptionROMImage] = []
        var offset = 0
        while offset < bytes.count {
            if !images.isEmpty {
                let hasSignature = offset + 1 < bytes.count && bytes[offset] == 0x55 && bytes[offset + 1] == 0xAA
                if !hasSignature { break }
            }
            let image = try OptionROMImage(parsing: bytes, at: offset, index: images.count, padding: padding)
            images.append(image)
            offset += image.bytes.count
            if image.isLastImage { break }
        }
        self.images = images
        self.trailingBytes = offset < bytes.count ? Array(bytes[offset...]) : []
    }

    /// The file's bytes: every image, then the trailing bytes. Equal to the parsed input unless a short
    /// last image was padded.
    public func encode() -> [UInt8] {
        images.reduce(into: [UInt8]()) { $0.append(contentsOf: $1.bytes) } + trailingBytes
    }

    public var byteCount: Int { images.reduce(trailingBytes.count) { $0 + $1.bytes.count } }
    public var hasLastImageIndicator: Bool { images.last?.isLastImage ?? false }
    public var efiImages: [OptionROMImage] { images.filter { $0.codeType == .efi } }
    public var legacyImages: [OptionROMImage] { images.filter { $0.codeType == .x86 } }

    /// The PCI BAR QEMU gives a `romfile=` without `romsize=`: the file size rounded up to a power of two.
    public var qemuROMBARSize: Int { OptionROM.nextPowerOfTwo(byteCount) }

    static func nextPowerOfTwo(_ value: Int) -> Int {
        var size = 1
        while size < value { size <<= 1 }
        return size
    }
}
