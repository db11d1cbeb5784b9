import Foundation
import Testing

@testable import Firmware

@Suite("Real iPXE ROMs and EFI binaries")
struct OptionROMRealFileTests {
    @Test("every ROM in /usr/lib/ipxe/qemu is listed here")
    func directoryMatchesTable() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: IPXEFiles.qemuROMDirectory)
            .filter { $0.hasSuffix(".rom") }.sorted()
        #expect(files == ExpectedROM.all.map(\.file).sorted())
    }

    @Test("images, IDs, lengths, indicators, checksums", arguments: ExpectedROM.all)
    func parsesRealROM(_ expected: ExpectedROM) throws {
        let bytes = try IPXEFiles.rom(expected.file)
        #expect(bytes.count == expected.size)
        let rom = try OptionROM(parsing: bytes)
        #expect(rom.encode() == bytes)
        #expect(rom.trailingBytes.isEmpty)
        #expect(rom.problems().isEmpty)
        #expect(rom.images.count == (expected.efiID == nil ? 1 : 2))

        let legacy = try #require(rom.images.first)
        #expect(legacy.offset == 0)
        #expect(legacy.codeType == .x86)
        #expect(legacy.pcir.pciID == expected.legacyID)
        #expect(legacy.bytes.count == expected.legacyLength)
        #expect(legacy.pcirPointer == 0x1C)
        #expect(legacy.pcir.revision == 3)
        #expect(legacy.pcir.length == 0x1C)
        #expect(legacy.pcir.classCode == [0x00, 0x00, 0x02])
        #expect(legacy.pcir.codeRevision == 1)
        #expect(legacy.isIPXE)
        #expect(legacy.legacyHeader?.initializationByteCount == expected.legacyLength)
        #expect(legacy.checksummedLength == expected.legacyLength)
        #expect(legacy.checksum == 0)
        #expect(legacy.isLastImage == (expected.efiID == nil))
        #expect(legacy.pcir.indicator == (expected.efiID == nil ? 0x80 : 0x00))
        #expect(legacy.deviceList == (expected.legacyID.device == 0 ? [] : [expected.legacyID.device]))

        guard let efiID = expected.efiID else { return }
        let efi = rom.images[1]
        #expect(efi.offset == expected.legacyLength)
        #expect(efi.codeType == .efi)
        #expect(efi.pcir.pciID == efiID)
        #expect(efi.bytes.count == expected.efiLength)
        #expect(efi.pcir.revision == 0)
        #expect(efi.pcir.length == 0x18)
        #expect(efi.pcir.indicator == 0x80)
        #expect(efi.isLastImage)
        #expect(efi.checksum == nil)
        let header = try #require(efi.efiHeader)
        #expect(header.efiSignature == 0x0EF1)
        #expect(Int(header.initializationSize) * 512 == expected.efiLength)
        #expect(header.subsystem == .efiBootServiceDriver)
        #expect(header.machineType == .x64)
        #expect(header.compressionType == .uncompressed)
        #expect(header.efiImageOffset == 0x38)
        #expect(header.pcirPointer == 0x1C)
        let pe = try #require(try efi.peImage?.get())
        #expect(pe.machine == .x64)
        #expect(pe.subsystem == .efiBootServiceDriver)
        #expect(pe.optionalHeaderMagic == .pe32Plus)
        #expect(pe.peHeaderOffset == 0xC0)
        // The whole PE file sits inside the image; iPXE's efirom pads the rest with zeros.
        #expect(Int(header.efiImageOffset) + pe.fileSize <= efi.bytes.count)
        #expect(efi.bytes[(Int(header.efiImageOffset) + pe.fileSize)...].allSatisfy { $0 == 0 })
    }

    @Test("efi-virtio.rom in detail, as xxd shows it")
    func efiVirtio() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("efi-virtio.rom"))
        #expect(rom.images.map(\.codeType) == [.x86, .efi])
        #expect(rom.images.map(\.pcir.vendorID) == [0x1AF4, 0x1AF4])
        #expect(rom.images.map(\.pcir.deviceID) == [0x1041, 0x1041])
        #expect(rom.images.map(\.isLastImage) == [false, true])
        #expect(rom.images.map(\.offset) == [0, 0x12800])
        #expect(rom.images[0].legacyHeader?.initializationSize == 0x94)
        #expect(rom.images[0].pcir.imageLength == 0x94)
        #expect(rom.images[0].pcir.maxRuntimeImageLength == 7)
        #expect(rom.images[0].bytes[6] == 0x68)  // iPXE's checksum byte, as combined (pxe-virtio.rom: 0xe8)
        #expect(rom.images[1].pcir.imageLength == 0x153)
        #expect(rom.images[1].efiHeader?.machineType == .x64)
        #expect(rom.images[1].efiHeader?.compressionType == .uncompressed)
        let pe = try #require(try rom.images[1].peImage?.get())
        #expect(pe.numberOfSections == 7)
        #expect(pe.sections.map(\.name) == [".text", ".rodata", ".pci_dev", ".data", ".bss", ".reloc", ".debug"])
        #expect(rom.qemuROMBARSize == 256 * 1024)
    }

    @Test(
        "ipxe.efi and snponly.efi are x64 EFI applications",
        arguments: [
            (IPXEFiles.ipxeEFI, 850528, 0x1E_B3B as UInt32), (IPXEFiles.snponlyEFI, 173792, 0x63E3 as UInt32),
        ])
    func plainEFIBinaries(path: String, size: Int, entryPoint: UInt32) throws {
        let bytes = try IPXEFiles.bytes(path)
        #expect(bytes.count == size)
        let pe = try PEImage(parsing: bytes)
        #expect(pe.peHeaderOffset == 0xC0)
        #expect(pe.machine == .x64)
        #expect(pe.subsystem == .efiApplication)
        #expect(pe.subsystem.rawValue == 10)
        #expect(pe.optionalHeaderMagic == .pe32Plus)
        #expect(pe.numberOfSections == 6)
        #expect(pe.sections.map(\.name) == [".text", ".rodata", ".data", ".bss", ".reloc", ".debug"])
        #expect(pe.addressOfEntryPoint == entryPoint)
        #expect(pe.fileSize == size)

        let report = try OptionROMInspection.inspect(path: path)
        #expect(report.format == .peImage)
        #expect(report.pe?.machine == "x64")
        #expect(report.pe?.subsystem == "efiApplication")
        #expect(report.isValid)
    }

    @Test("a PE file is not an option ROM")
    func peIsNotROM() throws {
        let bytes = try IPXEFiles.bytes(IPXEFiles.snponlyEFI)
        #expect(throws: OptionROMError.badROMSignature(image: 0, offset: 0, found: 0x5A4D)) {
            try OptionROM(parsing: bytes)
        }
    }

    @Test("a ROM is not a PE file")
    func romIsNotPE() throws {
        let bytes = try IPXEFiles.rom("pxe-e1000.rom")
        #expect(throws: PEImageError.badDOSSignature(offset: 0, found: 0xAA55)) { try PEImage(parsing: bytes) }
    }
}
