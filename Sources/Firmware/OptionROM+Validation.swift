/// Something wrong with a parsed ROM that firmware or QEMU would trip over. Parsing succeeded; these are
/// judgements against the specs and against what the caller expects.
public enum OptionROMProblem: Hashable, Sendable, CustomStringConvertible {
    /// A legacy image's bytes do not sum to 0 mod 256 (PCI Firmware Specification 3.0 §5.1.1), so a
    /// BIOS skips it.
    case checksumMismatch(image: Int, offset: Int, sum: UInt8, checksummedLength: Int)
    /// Neither the image's PCIR ID nor its PCI 3.0 device list names the expected device.
    case pciIDMismatch(image: Int, expected: PCIID, found: PCIID, deviceList: [UInt16])
    /// UEFI firmware (OVMF) runs only code type 3 images.
    case noEFIImage
    /// QEMU refuses a `romfile=` larger than its `romsize=`.
    case largerThanROMSize(size: Int, romSize: Int)
    /// QEMU requires `romsize=` to be a power of two.
    case romSizeNotPowerOfTwo(romSize: Int)
    /// The chain ends without an image that has indicator bit 7 set.
    case missingLastImageIndicator(lastImage: Int)
    /// A legacy image says it initializes more bytes than it has.
    case initializationSizeExceedsImage(image: Int, initializationSize: Int, imageLength: Int)
    /// A code type 3 image without the 0x0EF1 EFI signature.
    case badEFISignature(image: Int, found: UInt32)
    /// An uncompressed EFI image whose PE/COFF header does not parse.
    case invalidPEImage(image: Int, error: PEImageError)

    /// Stable identifier for JSON and scripts.
    public var code: String {
        switch self {
        case .checksumMismatch: "checksum"
        case .pciIDMismatch: "pci-id-mismatch"
        case .noEFIImage: "no-efi-image"
        case .largerThanROMSize: "larger-than-romsize"
        case .romSizeNotPowerOfTwo: "romsize-not-power-of-two"
        case .missingLastImageIndicator: "missing-last-image-indicator"
        case .initializationSizeExceedsImage: "initialization-size-exceeds-image"
        case .badEFISignature: "bad-efi-signature"
        case .invalidPEImage: "invalid-pe-image"
        }
    }

    /// The image the problem is about, if it is about one.
    public var image: Int? {
        switch self {
        case let .checksumMismatch(image, _, _, _), let .pciIDMismatch(image, _, _, _),
            let .initializationSizeExceedsImage(image, _, _), let .badEFISignature(image, _),
            let .invalidPEImage(image, _):
            image
        case let .missingLastImageIndicator(lastImage):
            lastImage
        case .noEFIImage, .largerThanROMSize, .romSizeNotPowerOfTwo:
            nil
        }
    }

    public var description: String {
        switch self {
        case let .checksumMismatch(image, offset, sum, length):
            return "image \(image) at \(OptionROMHex.offset(offset)): bad checksum: \(length) bytes sum to "
                + "0x\(OptionROMHex.string(sum, width: 2)), must be 0x00"
        case let .pciIDMismatch(image, expected, found, deviceList):
            let others = deviceList.filter { $0 != found.device }
            let list =
                others.isEmpty
                ? "" : " (device list: \(others.map { OptionROMHex.string($0, width: 4) }.joined(separator: " ")))"
            return "image \(image): expected \(expected), ROM is \(found)\(list)"
        case .noEFIImage:
            return "no EFI image (code type 3): UEFI firmware such as OVMF will not run this ROM"
        case let .largerThanROMSize(size, romSize):
            return "ROM is \(size) bytes, larger than romsize \(romSize)"
        case let .romSizeNotPowerOfTwo(romSize):
            return "romsize \(romSize) is not a power of two"
        case let .missingLastImageIndicator(lastImage):
            return "image \(lastImage) is the last image but its indicator lacks bit 7 (last image)"
        case let .initializationSizeExceedsImage(image, initializationSize, imageLength):
            return "image \(image): initialization size \(initializationSize) bytes exceeds the image length "
                + "\(imageLength) bytes"
        case let .badEFISignature(image, found):
            return "image \(image): EFI signature is 0x\(OptionROMHex.string(found, width: 4)), expected 0x0ef1"
        case let .invalidPEImage(image, error):
            return "image \(image): EFI image is not a valid PE image: \(error)"
        }
    }
}

extension OptionROM {
    /// Every problem with this ROM, in image order, then the ROM-wide ones.
    /// - Parameters:
    ///   - expectedPCIID: the device the ROM is for (QEMU device or NIC); every image must name it.
    ///   - romSize: QEMU's `romsize=` for the device, in bytes.
    ///   - requireEFI: the ROM must carry an EFI image (it will run under OVMF/UEFI).
    public func problems(
        expectedPCIID: PCIID? = nil, romSize: Int? = nil, requireEFI: Bool = false
    )
        -> [OptionROMProblem]
    {
        var problems: [OptionROMProblem] = []
        for image in images {
            if let expectedPCIID, !image.supportedPCIIDs.contains(expectedPCIID) {
                problems.append(
                    .pciIDMismatch(
                        image: image.index, expected: expectedPCIID, found: image.pcir.pciID,
                        deviceList: image.deviceList))
            }
            switch image.header {
            case .legacy(let header):
                if header.initializationByteCount > image.bytes.count {
                    problems.append(
                        .initializationSizeExceedsImage(
                            image: image.index, initializationSize: header.initializationByteCount,
                            imageLength: image.bytes.count))
                }
                if let sum = image.checksum, sum != 0, let length = image.checksummedLength {
                    problems.append(
                        .checksumMismatch(image: image.index, offset: image.offset, sum: sum, checksummedLength: length)
                    )
                }
            case .efi(let header):
                if !header.hasValidEFISignature {
                    problems.append(.badEFISignature(image: image.index, found: header.efiSignature))
                }
                if case .failure(let error) = image.peImage {
                    problems.append(.invalidPEImage(image: image.index, error: error))
                }
            case .other:
                break
            }
        }
        if !hasLastImageIndicator, let last = images.last {
            problems.append(.missingLastImageIndicator(lastImage: last.index))
        }
        if requireEFI && efiImages.isEmpty {
            problems.append(.noEFIImage)
        }
        if let romSize {
            if romSize <= 0 || romSize & (romSize - 1) != 0 {
                problems.append(.romSizeNotPowerOfTwo(romSize: romSize))
            }
            if byteCount > romSize {
                problems.append(.largerThanROMSize(size: byteCount, romSize: romSize))
            }
        }
        return problems
    }
}
