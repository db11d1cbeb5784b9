/// Which byte of a legacy image absorbs the checksum correction after the combiner changes its
/// indicator. No spec fixes the place; two tools do, differently.
public enum OptionROMChecksumByte: Hashable, Sendable {
    /// iPXE's checksum byte when the image has an iPXE header, else the last checksummed byte.
    case automatic
    /// Offset 0x06, iPXE's checksum byte (`util/Option/ROM.pm`, used by `util/catrom.pl`).
    case iPXE
    /// The last byte of the checksummed area, as EDK2's `EfiRom` does (`ProcessBinFile`).
    case lastByte
    /// An offset from the start of the image.
    case offset(Int)
}

extension OptionROM {
    /// A ROM holding the images of `roms` in order: e.g. iPXE's `bin/<pciid>.rom` then
    /// `bin-x86_64-efi/<pciid>.efirom`. See `combining(images:checksumByte:)`.
    public static func combining(
        _ roms: [OptionROM], checksumByte: OptionROMChecksumByte = .automatic
    )
        throws(OptionROMError) -> OptionROM
    {
        try combining(images: roms.flatMap(\.images), checksumByte: checksumByte)
    }

    /// A ROM holding `images` in order, each at its full 512-byte length, with the last-image indicator
    /// set on the last image only. A legacy image whose indicator changes (PCIR lies inside the
    /// checksummed area) or that was padded gets its checksum recomputed in `checksumByte`; images that
    /// need no change are copied byte for byte. Trailing bytes of the inputs are dropped.
    public static func combining(
        images: [OptionROMImage], checksumByte: OptionROMChecksumByte = .automatic
    )
        throws(OptionROMError) -> OptionROM
    {
        guard !images.isEmpty else { throw .nothingToCombine }
        var output: [UInt8] = []
        for (position, image) in images.enumerated() {
            var bytes = image.bytes
            let indicator =
                position == images.count - 1
                ? image.pcir.indicator | PCIDataStructure.lastImageIndicator
                : image.pcir.indicator & ~PCIDataStructure.lastImageIndicator
            bytes[Int(image.pcirPointer) + PCIDataStructure.indicatorOffset] = indicator

            let changed = indicator != image.pcir.indicator || image.paddedByteCount > 0
            if changed, let checksummedLength = image.checksummedLength {
                if image.paddedByteCount == 0, let sum = image.checksum, sum != 0 {
                    throw .inputChecksumInvalid(image: position, sum: sum)
                }
                let fix = try correctionOffset(checksumByte, in: image, position: position)
                bytes[fix] = bytes[fix] &- OptionROMImage.sum(bytes[0..<checksummedLength])
            }
            output.append(contentsOf: bytes)
        }
        return try OptionROM(parsing: output)
    }

    /// The byte of a legacy `image` that absorbs the checksum correction.
    private static func correctionOffset(
        _ choice: OptionROMChecksumByte, in image: OptionROMImage, position: Int
    )
        throws(OptionROMError) -> Int
    {
        let checksummedLength = image.checksummedLength ?? image.bytes.count
        let offset: Int
        switch choice {
        case .automatic: offset = image.isIPXE ? OptionROMLegacyHeader.iPXEChecksumOffset : checksummedLength - 1
        case .iPXE: offset = OptionROMLegacyHeader.iPXEChecksumOffset
        case .lastByte: offset = checksummedLength - 1
        case .offset(let value): offset = value
        }
        // Never on a field firmware reads: signature, initialization size, PCIR pointer, the PCIR itself.
        let pcir = Int(image.pcirPointer)..<Int(image.pcirPointer) + Int(image.pcir.length)
        let onField =
            offset <= OptionROMLegacyHeader.initializationSizeOffset
            || (OptionROMLegacyHeader.pcirPointerOffset..<OptionROMLegacyHeader.length).contains(offset)
            || pcir.contains(offset)
        guard (0..<checksummedLength).contains(offset), !onField else {
            throw .checksumByteOutsideImage(image: position, offset: offset, checksummedLength: checksummedLength)
        }
        return offset
    }
}
