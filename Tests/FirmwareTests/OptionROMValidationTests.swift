import Foundation
import Testing

@testable import Firmware

@Suite("Validation and error messages")
struct OptionROMValidationTests {
    @Test("a corrupted byte in the legacy image is a checksum problem naming image and sum")
    func corruptByte() throws {
        var bytes = try IPXEFiles.rom("efi-e1000.rom")
        bytes[0x2000] &+= 0x05
        let rom = try OptionROM(parsing: bytes)
        let problems = rom.problems()
        #expect(problems == [.checksumMismatch(image: 0, offset: 0, sum: 0x05, checksummedLength: 75264)])
        #expect(problems[0].description == "image 0 at 0x0: bad checksum: 75264 bytes sum to 0x05, must be 0x00")
    }

    @Test("a file cut inside the EFI image reports where that image should end")
    func truncatedInImage() throws {
        let bytes = Array(try IPXEFiles.rom("efi-e1000.rom").prefix(100_000))
        let error = #expect(throws: OptionROMError.self) { try OptionROM(parsing: bytes) }
        #expect(error == .imageRunsPastEnd(image: 1, offset: 0x12600, length: 174592, fileSize: 100_000))
        #expect(
            error?.description
                == "image 1 at 0x12600: image length 341 × 512 = 174592 bytes ends at 0x3d000, "
                + "past the end of the 100000-byte file (0x186a0)")
    }

    @Test("a file cut inside a header reports the field")
    func truncatedInHeader() throws {
        let bytes = Array(try IPXEFiles.rom("efi-e1000.rom").prefix(0x12600 + 0x20))
        let error = #expect(throws: OptionROMError.self) { try OptionROM(parsing: bytes) }
        #expect(error == .truncated(image: 1, field: "PCIR vendor ID", offset: 0x12620, length: 2, fileSize: 0x12620))
        #expect(
            error?.description
                == "image 1: PCIR vendor ID (2 bytes at 0x12620) runs past the end of the 75296-byte file")
    }

    @Test("a file cut at an image boundary lacks the last-image indicator")
    func cutAtBoundary() throws {
        let bytes = Array(try IPXEFiles.rom("efi-virtio.rom").prefix(75776))
        let rom = try OptionROM(parsing: bytes)
        #expect(rom.images.count == 1)
        #expect(rom.problems() == [.missingLastImageIndicator(lastImage: 0)])
        #expect(
            rom.problems().map(\.description)
                == ["image 0 is the last image but its indicator lacks bit 7 (last image)"])
    }

    @Test("filler after an image without the indicator ends the chain and is kept")
    func fillerAfterChain() throws {
        let bytes = Array(try IPXEFiles.rom("efi-virtio.rom").prefix(75776)) + [UInt8](repeating: 0xFF, count: 1024)
        let rom = try OptionROM(parsing: bytes)
        #expect(rom.images.count == 1)
        #expect(rom.trailingBytes.count == 1024)
        #expect(rom.encode() == bytes)
        #expect(rom.problems().map(\.code) == ["missing-last-image-indicator"])
    }

    @Test("wrong expected PCI ID says what was expected and what the ROM is")
    func wrongPCIID() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom"))
        let problems = rom.problems(expectedPCIID: PCIID("1af4:1000"))
        #expect(
            problems.map(\.description) == [
                "image 0: expected 1af4:1000, ROM is 8086:100e",
                "image 1: expected 1af4:1000, ROM is 8086:100e",
            ])
        #expect(rom.problems(expectedPCIID: PCIID(vendor: 0x8086, device: 0x100E)).isEmpty)
    }

    @Test("Debian's virtio ROM is for 1af4:1041, so QEMU's transitional 1af4:1000 does not match")
    func virtioID() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("efi-virtio.rom"))
        #expect(rom.problems(expectedPCIID: PCIID("1af4:1041")).isEmpty)
        #expect(rom.problems(expectedPCIID: PCIID("1af4:1000")).map(\.code) == ["pci-id-mismatch", "pci-id-mismatch"])
    }

    @Test("the PCI 3.0 device list counts as a match")
    func deviceListMatches() throws {
        var bytes = try IPXEFiles.rom("pxe-e1000.rom")
        // The device list (PCIR 0x1c + 0x4bf = 0x4db) holds 100e; make the primary ID 10d3 and keep the
        // checksum with iPXE's byte 0x06.
        bytes[0x22] = 0xD3
        bytes[0x23] = 0x10
        bytes[0x06] = bytes[0x06] &- (0xD3 &- 0x0E)
        let rom = try OptionROM(parsing: bytes)
        #expect(rom.images[0].checksum == 0)
        #expect(rom.images[0].supportedPCIIDs == [PCIID("8086:10d3")!, PCIID("8086:100e")!])
        #expect(rom.problems(expectedPCIID: PCIID("8086:100e")).isEmpty)
        #expect(
            rom.problems(expectedPCIID: PCIID("8086:1229")).map(\.description)
                == ["image 0: expected 8086:1229, ROM is 8086:10d3 (device list: 100e)"])
    }

    @Test("a legacy-only ROM fails when EFI is required")
    func requireEFI() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("pxe-e1000.rom"))
        #expect(rom.problems(requireEFI: true) == [.noEFIImage])
        let combined = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom"))
        #expect(combined.problems(requireEFI: true).isEmpty)
    }

    @Test("romsize: too small, not a power of two")
    func romSize() throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom("efi-e1000.rom"))
        #expect(rom.problems(romSize: 262_144).isEmpty)
        #expect(rom.problems(romSize: 131_072) == [.largerThanROMSize(size: 249_856, romSize: 131_072)])
        #expect(
            rom.problems(romSize: 131_072).map(\.description) == ["ROM is 249856 bytes, larger than romsize 131072"])
        #expect(rom.problems(romSize: 300_000) == [.romSizeNotPowerOfTwo(romSize: 300_000)])
    }

    @Test("a bad EFI signature and an unreadable PE image are problems of that image")
    func badEFIImage() throws {
        var bytes = try IPXEFiles.rom("efi-e1000.rom")
        bytes[0x12604] = 0xF2  // EFI signature 0x0ef1 → 0x0ef2
        bytes[0x12638] = 0x00  // "MZ" → "\0Z"
        let rom = try OptionROM(parsing: bytes)
        #expect(
            rom.problems().map(\.description) == [
                "image 1: EFI signature is 0x0ef2, expected 0x0ef1",
                "image 1: EFI image is not a valid PE image: no DOS header at 0x38: found 0x5a00, expected \"MZ\"",
            ])
    }

    @Test("garbage is not a ROM; signatures are named")
    func signatures() throws {
        #expect(throws: OptionROMError.empty) { try OptionROM(parsing: []) }
        #expect(throws: OptionROMError.badROMSignature(image: 0, offset: 0, found: 0xFFFF)) {
            try OptionROM(parsing: [UInt8](repeating: 0xFF, count: 512))
        }
        var bytes = try IPXEFiles.rom("pxe-e1000.rom")
        bytes[0x1C] = UInt8(ascii: "X")
        let error = #expect(throws: OptionROMError.self) { try OptionROM(parsing: bytes) }
        #expect(error?.description == "image 0: PCI data structure at 0x1c starts with \"XCIR\", expected \"PCIR\"")
        bytes = try IPXEFiles.rom("pxe-e1000.rom")
        bytes[0x2C] = 0
        bytes[0x2D] = 0
        #expect(throws: OptionROMError.zeroImageLength(image: 0, offset: 0)) { try OptionROM(parsing: bytes) }
    }
}
