import Foundation

/// `vboot rom inspect`: what a ROM or EFI file holds and what is wrong with it, as a Codable report
/// (for `--json`) with a text rendering. Reading the file is the only side effect.
public enum OptionROMInspection {
    /// Reads `path` and inspects it: a PCI expansion ROM (55 AA) or a plain EFI binary (MZ).
    /// - Parameters:
    ///   - expectedPCIID: the device the ROM is for; each image must name it (ignored for EFI binaries).
    ///   - romSize: QEMU `romsize=` in bytes the ROM must fit (ignored for EFI binaries).
    ///   - requireEFI: report a ROM without an EFI image as a problem.
    /// - Throws: file errors, `OptionROMError` or `PEImageError` when the file cannot be read as either.
    ///   Problems with a readable file are in `Report.problems`, not thrown.
    public static func inspect(
        path: String, expectedPCIID: PCIID? = nil, romSize: Int? = nil, requireEFI: Bool = false
    ) throws -> Report {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try inspect(
            bytes: [UInt8](data), path: path, expectedPCIID: expectedPCIID, romSize: romSize, requireEFI: requireEFI)
    }

    /// As `inspect(path:…)`, for bytes already in memory; `path` only labels the report.
    public static func inspect(
        bytes: [UInt8], path: String, expectedPCIID: PCIID? = nil, romSize: Int? = nil, requireEFI: Bool = false
    ) throws -> Report {
        if bytes.count >= 2, bytes[0] == 0x4D, bytes[1] == 0x5A {
            let image = try PEImage(parsing: bytes)
            return Report(path: path, fileSize: bytes.count, pe: image)
        }
        let rom = try OptionROM(parsing: bytes)
        let problems = rom.problems(expectedPCIID: expectedPCIID, romSize: romSize, requireEFI: requireEFI)
        return Report(path: path, rom: rom, expectedPCIID: expectedPCIID, romSize: romSize, problems: problems)
    }

    public struct Report: Codable, Hashable, Sendable {
        public enum Format: String, Codable, Hashable, Sendable {
            case optionROM = "pci-option-rom"
            case peImage = "pe-image"
        }

        public var path: String
        public var format: Format
        public var fileSize: Int
        public var expectedPCIID: PCIID?
        public var romSize: Int?
        /// BAR size QEMU would give this file without `romsize=` (option ROMs only).
        public var qemuROMBARSize: Int?
        public var images: [Image]
        public var trailingBytes: Int
        /// The PE header of a plain EFI binary.
        public var pe: PE?
        public var problems: [Problem]
        public var isValid: Bool

        public init(path: String, rom: OptionROM, expectedPCIID: PCIID?, romSize: Int?, problems: [OptionROMProblem]) {
            self.path = path
            format = .optionROM
            fileSize = rom.byteCount
            self.expectedPCIID = expectedPCIID
            self.romSize = romSize
            qemuROMBARSize = rom.qemuROMBARSize
            images = rom.images.map(Image.init)
            trailingBytes = rom.trailingBytes.count
            pe = nil
            self.problems = problems.map(Problem.init)
            isValid = problems.isEmpty
        }

        public init(path: String, fileSize: Int, pe: PEImage) {
            self.path = path
            format = .peImage
            self.fileSize = fileSize
            expectedPCIID = nil
            romSize = nil
            qemuROMBARSize = nil
            images = []
            trailingBytes = 0
            self.pe = PE(pe)
            problems = []
            isValid = true
        }

        /// Lines an admin can read: a summary, one block per image, then the problems.
        public func describe() -> [String] {
            var lines: [String] = []
            switch format {
            case .peImage:
                lines.append("\(path): EFI binary (PE/COFF), \(fileSize) bytes")
                if let pe { lines += pe.describe().map { "  " + $0 } }
            case .optionROM:
                let count = images.count == 1 ? "1 image" : "\(images.count) images"
                lines.append(
                    "\(path): PCI option ROM, \(fileSize) bytes, \(count), "
                        + "QEMU ROM BAR \(qemuROMBARSize.map { $0 / 1024 } ?? 0) KiB")
                for image in images { lines += image.describe() }
                if trailingBytes > 0 { lines.append("\(trailingBytes) bytes after the last image") }
            }
            if problems.isEmpty {
                lines.append("no problems")
            } else {
                lines.append(problems.count == 1 ? "1 problem:" : "\(problems.count) problems:")
                lines += problems.map { "  - \($0.message)" }
            }
            return lines
        }

        public var text: String { describe().joined(separator: "\n") + "\n" }

        /// Pretty-printed JSON with sorted keys, for `--json`.
        public func json() throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        }
    }

    public struct Image: Codable, Hashable, Sendable {
        public var index: Int
        public var offset: Int
        public var length: Int
        public var codeType: String
        public var codeTypeValue: UInt8
        public var pciID: PCIID
        public var deviceList: [String]
        /// Base class, subclass, programming interface: "020000".
        public var classCode: String
        public var pcirOffset: Int
        public var pcirRevision: UInt8
        public var codeRevision: UInt16
        public var indicator: UInt8
        public var last: Bool
        public var legacy: Legacy?
        public var efi: EFI?
        public var pe: PE?
        /// Why the PE header inside an uncompressed EFI image could not be read.
        public var peError: String?

        public init(_ image: OptionROMImage) {
            index = image.index
            offset = image.offset
            length = image.bytes.count
            codeType = image.codeType.name
            codeTypeValue = image.codeType.rawValue
            pciID = image.pcir.pciID
            deviceList = image.deviceList.map { OptionROMHex.string($0, width: 4) }
            classCode = image.pcir.classCodeText
            pcirOffset = Int(image.pcirPointer)
            pcirRevision = image.pcir.revision
            codeRevision = image.pcir.codeRevision
            indicator = image.pcir.indicator
            last = image.isLastImage
            switch image.header {
            case .legacy(let header):
                legacy = Legacy(
                    initializationSize: header.initializationByteCount,
                    checksummedLength: image.checksummedLength ?? 0, checksum: image.checksum ?? 0,
                    checksumValid: image.checksum == 0, iPXE: image.isIPXE)
            case .efi(let header):
                efi = EFI(header)
            case .other:
                break
            }
            switch image.peImage {
            case .success(let pe): self.pe = PE(pe)
            case .failure(let error): peError = error.description
            case nil: break
            }
        }

        func describe() -> [String] {
            let code = PCICodeType(rawValue: codeTypeValue)
            var lines = [
                "image \(index) at \(OptionROMHex.offset(offset)): \(code), \(pciID), \(length) bytes "
                    + "(\(length / PCIDataStructure.imageLengthUnit) × 512)"
            ]
            var pcirLine =
                "  PCIR at +\(OptionROMHex.offset(pcirOffset)): revision \(pcirRevision), class \(classCode)"
                + "\(Self.className(classCode).map { " (\($0))" } ?? ""), code revision \(codeRevision)"
            if !deviceList.isEmpty { pcirLine += ", device list \(deviceList.joined(separator: " "))" }
            lines.append(pcirLine)
            lines.append(
                "  indicator 0x\(OptionROMHex.string(indicator, width: 2)): "
                    + (last ? "last image" : "more images follow"))
            if let legacy {
                lines.append(
                    "  initialization size \(legacy.initializationSize) bytes, checksum over "
                        + "\(legacy.checksummedLength) bytes "
                        + (legacy.checksumValid
                            ? "ok" : "BAD (sum 0x\(OptionROMHex.string(legacy.checksum, width: 2)))")
                        + (legacy.iPXE ? ", built by iPXE" : ""))
            }
            if let efi {
                lines.append(
                    "  \(PESubsystem(rawValue: efi.subsystemValue)) for \(PEMachine(rawValue: efi.machineValue)), "
                        + "\(EFIROMCompression(rawValue: efi.compressionValue)), image at "
                        + "+\(OptionROMHex.offset(efi.imageOffset))"
                        + (efi.signatureValid ? "" : ", BAD EFI signature"))
            }
            if let pe { lines += pe.describe().map { "  " + $0 } }
            if let peError { lines.append("  PE header unreadable: \(peError)") }
            return lines
        }

        /// PCI base class names for the classes option ROMs come with (PCI Code and ID Assignment §1).
        static func className(_ classCode: String) -> String? {
            switch classCode.prefix(2) {
            case "01": "mass storage"
            case "02": "network"
            case "03": "display"
            case "0c": "serial bus"
            default: nil
            }
        }
    }

    public struct Legacy: Codable, Hashable, Sendable {
        /// Initialization size in bytes (header byte 2 × 512).
        public var initializationSize: Int
        public var checksummedLength: Int
        /// 8-bit sum of the checksummed bytes; 0 when valid.
        public var checksum: UInt8
        public var checksumValid: Bool
        public var iPXE: Bool
    }

    public struct EFI: Codable, Hashable, Sendable {
        /// Initialization size in bytes (header word 2 × 512).
        public var initializationSize: Int
        public var signatureValid: Bool
        public var subsystem: String
        public var subsystemValue: UInt16
        public var machine: String
        public var machineValue: UInt16
        public var compression: String
        public var compressionValue: UInt16
        /// Offset of the EFI image from the start of the ROM image.
        public var imageOffset: Int

        init(_ header: EFIROMHeader) {
            initializationSize = Int(header.initializationSize) * PCIDataStructure.imageLengthUnit
            signatureValid = header.hasValidEFISignature
            subsystem = header.subsystem.name
            subsystemValue = header.subsystem.rawValue
            machine = header.machineType.name
            machineValue = header.machineType.rawValue
            compression = header.compressionType.name
            compressionValue = header.compressionType.rawValue
            imageOffset = Int(header.efiImageOffset)
        }
    }

    public struct PE: Codable, Hashable, Sendable {
        /// "PE32" or "PE32+".
        public var format: String
        public var machine: String
        public var machineValue: UInt16
        public var subsystem: String
        public var subsystemValue: UInt16
        public var sections: [String]
        public var entryPoint: UInt32
        public var sizeOfImage: UInt32
        /// Bytes on disk: headers plus every section's raw data.
        public var fileSize: Int

        init(_ image: PEImage) {
            format = image.optionalHeaderMagic.description
            machine = image.machine.name
            machineValue = image.machine.rawValue
            subsystem = image.subsystem.name
            subsystemValue = image.subsystem.rawValue
            sections = image.sections.map(\.name)
            entryPoint = image.addressOfEntryPoint
            sizeOfImage = image.sizeOfImage
            fileSize = image.fileSize
        }

        func describe() -> [String] {
            [
                "\(format) \(PEMachine(rawValue: machineValue)), \(PESubsystem(rawValue: subsystemValue)), "
                    + "\(sections.count) sections (\(sections.joined(separator: " ")))",
                "entry point \(OptionROMHex.offset(entryPoint)), size in memory \(sizeOfImage) bytes, "
                    + "on disk \(fileSize) bytes",
            ]
        }
    }

    public struct Problem: Codable, Hashable, Sendable {
        /// Stable identifier (`OptionROMProblem.code`).
        public var code: String
        public var image: Int?
        public var message: String

        public init(_ problem: OptionROMProblem) {
            code = problem.code
            image = problem.image
            message = problem.description
        }
    }
}

extension OptionROM {
    /// Lines an admin can read, one block per image (the text of `vboot rom inspect`).
    public func describe(path: String = "ROM", expectedPCIID: PCIID? = nil, romSize: Int? = nil) -> [String] {
        OptionROMInspection.Report(
            path: path, rom: self, expectedPCIID: expectedPCIID, romSize: romSize,
            problems: problems(expectedPCIID: expectedPCIID, romSize: romSize)
        ).describe()
    }
}
