import Testing

@testable import Firmware

@Suite("Header codecs round-trip")
struct OptionROMCodecTests {
    @Test(
        "PCIR, legacy and EFI headers of every real ROM encode to the bytes they came from",
        arguments: ExpectedROM.all.map(\.file))
    func headersRoundTrip(file: String) throws {
        let rom = try OptionROM(parsing: try IPXEFiles.rom(file))
        for image in rom.images {
            let pcirStart = Int(image.pcirPointer)
            #expect(image.pcir.encode() == Array(image.bytes[pcirStart..<pcirStart + Int(image.pcir.length)]))
            switch image.header {
            case .legacy(let header):
                #expect(header.encode() == Array(image.bytes[0..<OptionROMLegacyHeader.length]))
            case .efi(let header):
                #expect(header.encode() == Array(image.bytes[0..<EFIROMHeader.length]))
            case .other:
                Issue.record("iPXE builds only legacy and EFI images")
            }
        }
    }

    @Test("PCIR built from values, annotated")
    func pcirFromValues() throws {
        let pcir = PCIDataStructure(
            vendorID: 0x1AF4, deviceID: 0x1000, length: 0x18, revision: 0, classCode: [0x00, 0x00, 0x02],
            imageLength: 0x0155, codeType: .efi, indicator: PCIDataStructure.lastImageIndicator)
        let expected: [UInt8] = [
            0x50, 0x43, 0x49, 0x52,  // "PCIR"
            0xF4, 0x1A,  // vendor 1af4
            0x00, 0x10,  // device 1000
            0x00, 0x00,  // device list pointer (reserved in 2.x)
            0x18, 0x00,  // length 0x18
            0x00,  // revision 0
            0x00, 0x00, 0x02,  // class: prog-if 00, subclass 00, base 02 (network)
            0x55, 0x01,  // image length 0x155 × 512
            0x00, 0x00,  // code revision
            0x03,  // code type EFI
            0x80,  // indicator: last image
            0x00, 0x00,  // reserved
        ]
        #expect(pcir.encode() == expected)
        #expect(try PCIDataStructure(parsing: expected, at: 0) == pcir)
        #expect(pcir.classCodeText == "020000")
        #expect(pcir.imageByteCount == 174_592)
    }

    @Test("EFI ROM header built from values, annotated")
    func efiHeaderFromValues() throws {
        let header = EFIROMHeader(
            initializationSize: 0x0155, subsystem: .efiBootServiceDriver, machineType: .aarch64,
            compressionType: .efiCompressed, efiImageOffset: 0x38, pcirPointer: 0x1C)
        let expected: [UInt8] = [
            0x55, 0xAA,  // signature
            0x55, 0x01,  // initialization size 0x155 × 512
            0xF1, 0x0E, 0x00, 0x00,  // EFI signature 0x0ef1
            0x0B, 0x00,  // subsystem 11, boot service driver
            0x64, 0xAA,  // machine 0xaa64, AArch64
            0x01, 0x00,  // compression: EFI compressed
            0, 0, 0, 0, 0, 0, 0, 0,  // reserved
            0x38, 0x00,  // EFI image at +0x38
            0x1C, 0x00,  // PCIR at +0x1c
        ]
        #expect(header.encode() == expected)
        #expect(try EFIROMHeader(parsing: expected, at: 0) == header)
    }

    @Test(
        "machine and subsystem names",
        arguments: [
            (0x014C as UInt16, "IA32"), (0x8664, "x64"), (0xAA64, "AArch64"), (0x01C2, "ARM"), (0x5064, "RISC-V 64"),
            (0x6264, "LoongArch64"), (0x0EBC, "EBC"), (0x1234, "machine 0x1234"),
        ])
    func machineNames(value: UInt16, name: String) {
        #expect(PEMachine(rawValue: value).description == name)
    }

    @Test("PCI IDs parse from lspci and iPXE spellings")
    func pciIDs() {
        #expect(PCIID("1af4:1000") == PCIID(vendor: 0x1AF4, device: 0x1000))
        #expect(PCIID("0x8086:0x100E") == PCIID(vendor: 0x8086, device: 0x100E))
        #expect(PCIID("8086100e") == PCIID(vendor: 0x8086, device: 0x100E))
        #expect(PCIID("8086:100e:1") == nil)
        #expect(PCIID("8086:") == nil)
        #expect(PCIID("zzzz:0000") == nil)
        #expect(PCIID("12345:0000") == nil)
        #expect(PCIID(vendor: 0x15AD, device: 0x07B0).description == "15ad:07b0")
    }
}
