import Testing

@testable import Firmware

@Suite("Combining legacy and EFI images")
struct OptionROMCombineTests {
    @Test("splitting efi-e1000.rom and recombining gives the same bytes")
    func splitAndRecombine() throws {
        let original = try IPXEFiles.rom("efi-e1000.rom")
        let rom = try OptionROM(parsing: original)
        let legacy = try OptionROM(parsing: rom.images[0].bytes)  // indicator 0x00: no last image yet
        let efi = try OptionROM(parsing: rom.images[1].bytes)
        #expect(legacy.problems().map(\.code) == ["missing-last-image-indicator"])
        #expect(efi.problems().isEmpty)

        let combined = try OptionROM.combining([legacy, efi])
        #expect(combined.encode() == original)
    }

    /// Debian built efi-*.rom from pxe-*.rom (indicator 0x80) and the .efirom with iPXE's catrom.pl, which
    /// clears bit 7 and corrects the checksum in iPXE's byte 0x06 (pxe-e1000.rom 0x14 → efi-e1000.rom
    /// 0x94). Doing the same must reproduce the shipped file exactly.
    @Test("pxe-<nic>.rom + the EFI image of efi-<nic>.rom == efi-<nic>.rom", arguments: ExpectedROM.nics.map(\.0))
    func rebuildsDebianCombinedROM(nic: String) throws {
        let original = try IPXEFiles.rom("efi-\(nic).rom")
        let legacy = try OptionROM(parsing: try IPXEFiles.rom("pxe-\(nic).rom"))
        let efi = try OptionROM(parsing: original).images[1]
        #expect(legacy.images[0].isLastImage)

        let combined = try OptionROM.combining(images: legacy.images + [efi])
        #expect(combined.encode() == original)
        #expect(combined.images.map(\.isLastImage) == [false, true])
        #expect(combined.images[0].checksum == 0)
        #expect(combined.problems().isEmpty)
    }

    @Test("EDK2 EfiRom placement: the last byte takes the correction instead of 0x06")
    func lastByteChecksum() throws {
        let original = try IPXEFiles.rom("efi-e1000.rom")
        let pxe = try IPXEFiles.rom("pxe-e1000.rom")
        let combined = try OptionROM.combining(
            [try OptionROM(parsing: pxe), try OptionROM(parsing: Array(original[75264...]))],
            checksumByte: .lastByte)
        let bytes = combined.encode()
        #expect(combined.problems().isEmpty)
        #expect(bytes.count == original.count)
        // Differs from Debian's file in exactly two bytes: 0x06 kept as in pxe-e1000.rom, 0x125ff
        // (was 0xff padding) now 0xff + 0x80 = 0x7f.
        let differences = zip(bytes, original).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(differences == [0x06, 0x125FF])
        #expect(bytes[0x06] == 0x14)
        #expect(bytes[0x125FF] == 0x7F)
        #expect(bytes[0x31] == 0x00)
    }

    @Test("EFI first, legacy last: indicators swap and the legacy checksum follows")
    func reversedOrder() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("efi-rtl8139.rom"))
        let combined = try OptionROM.combining(images: [rom.images[1], rom.images[0]])
        #expect(combined.images.map(\.codeType) == [.efi, .x86])
        #expect(combined.images.map(\.isLastImage) == [false, true])
        #expect(combined.images.map(\.offset) == [0, 174080])
        #expect(combined.images[0].pcir.indicator == 0x00)
        #expect(combined.images[1].pcir.indicator == 0x80)
        #expect(combined.images[1].checksum == 0)
        #expect(combined.images[1].bytes[6] == rom.images[0].bytes[6] &- 0x80)
        #expect(combined.problems().isEmpty)
    }

    @Test("a short unpadded last image is padded to its declared length, checksum recomputed")
    func padsShortImage() throws {
        // pxe-e1000.rom ends in 0xff filler; drop 300 bytes as an unpadded build output would.
        let pxe = try IPXEFiles.rom("pxe-e1000.rom")
        let short = Array(pxe.dropLast(300))
        #expect(throws: OptionROMError.imageRunsPastEnd(image: 0, offset: 0, length: 75264, fileSize: 74964)) {
            try OptionROM(parsing: short)
        }
        let padded = try OptionROM(parsing: short, padShortLastImage: 0x00)
        #expect(padded.images[0].paddedByteCount == 300)
        #expect(padded.images[0].checksum != 0)  // the zero filler replaced 300 × 0xff

        let efi = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom")).images[1]
        let combined = try OptionROM.combining(images: padded.images + [efi])
        #expect(combined.images[0].bytes.count == 75264)
        #expect(combined.images[0].checksum == 0)
        #expect(combined.images[1].offset == 75264)
        #expect(combined.problems().isEmpty)
    }

    @Test("refuses to combine a legacy image whose checksum is already wrong")
    func refusesCorruptInput() throws {
        var pxe = try IPXEFiles.rom("pxe-e1000.rom")
        pxe[0x1000] &+= 1
        let efi = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom")).images[1]
        #expect(throws: OptionROMError.inputChecksumInvalid(image: 0, sum: 0x01)) {
            try OptionROM.combining(images: try OptionROM(parsing: pxe).images + [efi])
        }
    }

    @Test("the checksum correction may not land on the PCIR")
    func refusesPCIRChecksumByte() throws {
        // pxe-e1000.rom's indicator must change, so its checksum must be corrected; 0x20 is its vendor ID.
        let legacy = try OptionROM(parsing: try IPXEFiles.rom("pxe-e1000.rom")).images[0]
        let efi = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom")).images[1]
        #expect(throws: OptionROMError.checksumByteOutsideImage(image: 0, offset: 0x20, checksummedLength: 75264)) {
            try OptionROM.combining(images: [legacy, efi], checksumByte: .offset(0x20))
        }
        #expect(throws: OptionROMError.checksumByteOutsideImage(image: 0, offset: 75264, checksummedLength: 75264)) {
            try OptionROM.combining(images: [legacy, efi], checksumByte: .offset(75264))
        }
        let elsewhere = try OptionROM.combining(images: [legacy, efi], checksumByte: .offset(0x08))
        #expect(elsewhere.images[0].checksum == 0)
        #expect(elsewhere.images[0].bytes[0x08] == legacy.bytes[0x08] &+ 0x80)
    }

    @Test("nothing to combine")
    func empty() {
        #expect(throws: OptionROMError.nothingToCombine) { try OptionROM.combining(images: []) }
    }
}
