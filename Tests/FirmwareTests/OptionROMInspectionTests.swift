import Foundation
import Testing

@testable import Firmware

@Suite("vboot rom inspect report")
struct OptionROMInspectionTests {
    @Test("text for efi-e1000.rom: one block per image")
    func textReport() throws {
        let report = try OptionROMInspection.inspect(
            path: "/usr/lib/ipxe/qemu/efi-e1000.rom", expectedPCIID: PCIID("8086:100e"), romSize: 262_144,
            requireEFI: true)
        #expect(report.isValid)
        #expect(
            report.describe() == [
                "/usr/lib/ipxe/qemu/efi-e1000.rom: PCI option ROM, 249856 bytes, 2 images, QEMU ROM BAR 256 KiB",
                "image 0 at 0x0: x86 legacy (BIOS), 8086:100e, 75264 bytes (147 × 512)",
                "  PCIR at +0x1c: revision 3, class 020000 (network), code revision 1, device list 100e",
                "  indicator 0x00: more images follow",
                "  initialization size 75264 bytes, checksum over 75264 bytes ok, built by iPXE",
                "image 1 at 0x12600: EFI, 8086:100e, 174592 bytes (341 × 512)",
                "  PCIR at +0x1c: revision 0, class 020000 (network), code revision 0",
                "  indicator 0x80: last image",
                "  EFI boot service driver for x64, uncompressed, image at +0x38",
                "  PE32+ x64, EFI boot service driver, 7 sections (.text .rodata .pci_dev .data .bss .reloc .debug)",
                "  entry point 0x6260, size in memory 703680 bytes, on disk 174400 bytes",
                "no problems",
            ])
        #expect(report.text.hasSuffix("no problems\n"))
    }

    @Test("problems are listed under the images")
    func textProblems() throws {
        var bytes = try IPXEFiles.rom("pxe-virtio.rom")
        bytes[0x3000] &+= 0x11
        let report = try OptionROMInspection.inspect(
            bytes: bytes, path: "pxe-virtio.rom", expectedPCIID: PCIID("1af4:1000"), romSize: 65536, requireEFI: true)
        #expect(!report.isValid)
        #expect(
            report.problems.map(\.code) == [
                "pci-id-mismatch", "checksum", "no-efi-image", "larger-than-romsize",
            ])
        #expect(
            Array(report.describe().suffix(5)) == [
                "4 problems:",
                "  - image 0: expected 1af4:1000, ROM is 1af4:1041",
                "  - image 0 at 0x0: bad checksum: 75776 bytes sum to 0x11, must be 0x00",
                "  - no EFI image (code type 3): UEFI firmware such as OVMF will not run this ROM",
                "  - ROM is 75776 bytes, larger than romsize 65536",
            ])
        #expect(
            report.describe().contains(
                "  initialization size 75776 bytes, checksum over 75776 bytes BAD (sum 0x11), built by iPXE"))
    }

    @Test("JSON carries the same facts and decodes back")
    func json() throws {
        let report = try OptionROMInspection.inspect(path: "/usr/lib/ipxe/qemu/efi-virtio.rom")
        let text = try report.json()
        let decoded = try JSONDecoder().decode(OptionROMInspection.Report.self, from: Data(text.utf8))
        #expect(decoded == report)

        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "pci-option-rom")
        #expect(object["fileSize"] as? Int == 249_344)
        #expect(object["isValid"] as? Bool == true)
        let images = try #require(object["images"] as? [[String: Any]])
        #expect(images.map { $0["pciID"] as? String } == ["1af4:1041", "1af4:1041"])
        #expect(images.map { $0["codeType"] as? String } == ["x86", "efi"])
        #expect(images.map { $0["last"] as? Bool } == [false, true])
        let efi = try #require(images[1]["efi"] as? [String: Any])
        #expect(efi["machine"] as? String == "x64")
        #expect(efi["machineValue"] as? Int == 0x8664)
        #expect(efi["subsystemValue"] as? Int == 11)
        #expect(efi["compression"] as? String == "none")
        let legacy = try #require(images[0]["legacy"] as? [String: Any])
        #expect(legacy["checksumValid"] as? Bool == true)
        #expect(legacy["iPXE"] as? Bool == true)
    }

    @Test("EFI binaries get a PE report")
    func peReport() throws {
        let report = try OptionROMInspection.inspect(path: IPXEFiles.snponlyEFI)
        #expect(
            report.describe() == [
                "/usr/lib/ipxe/snponly.efi: EFI binary (PE/COFF), 173792 bytes",
                "  PE32+ x64, EFI application, 6 sections (.text .rodata .data .bss .reloc .debug)",
                "  entry point 0x63e3, size in memory 703136 bytes, on disk 173792 bytes",
                "no problems",
            ])
    }

    @Test("a missing file is a thrown error, not a report")
    func missingFile() {
        #expect(throws: (any Error).self) { try OptionROMInspection.inspect(path: "/nonexistent/vboot.rom") }
    }
}
