import Foundation
import Testing

@testable import Firmware

/// Debian's ipxe-qemu / ipxe packages (installed in CI): efi-*.rom are legacy + x64 EFI ROMs built with
/// iPXE's catrom, pxe-*.rom legacy only. The expected values below were read from these files with xxd
/// (ipxe 1.0.0+git-20190125.36a4c85-5.1, files dated 2021-02-07).
enum IPXEFiles {
    static let qemuROMDirectory = "/usr/lib/ipxe/qemu"
    static let ipxeEFI = "/usr/lib/ipxe/ipxe.efi"
    static let snponlyEFI = "/usr/lib/ipxe/snponly.efi"

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func rom(_ name: String) throws -> [UInt8] { try bytes("\(qemuROMDirectory)/\(name)") }
}

/// What one real ROM file holds.
struct ExpectedROM: Sendable, CustomTestStringConvertible {
    var file: String
    var size: Int
    /// The legacy image's PCIR ID.
    var legacyID: PCIID
    var legacyLength: Int
    /// The EFI image's PCIR ID and length; nil for pxe-*.rom.
    var efiID: PCIID?
    var efiLength: Int?

    var testDescription: String { file }

    static func id(_ text: String) -> PCIID { PCIID(text)! }

    /// NIC name, legacy ID, legacy length, EFI length, EFI ID when it differs from the legacy one.
    static let nics: [(String, String, Int, Int, String?)] = [
        ("e1000", "8086:100e", 75264, 174592, nil),
        ("e1000e", "8086:10d3", 75264, 174592, nil),
        ("eepro100", "8086:1229", 75264, 172544, nil),
        // Debian's ne2k_pci build carries no PCI ID at all, and its EFI image says fff3:0000.
        ("ne2k_pci", "0000:0000", 74752, 171008, "fff3:0000"),
        ("pcnet", "1022:2000", 74752, 171520, nil),
        ("rtl8139", "10ec:8139", 75776, 174080, nil),
        // The modern virtio-net ID 1041, not QEMU's transitional 1000.
        ("virtio", "1af4:1041", 75776, 173568, nil),
        ("vmxnet3", "15ad:07b0", 74240, 169472, nil),
    ]

    static let combined: [ExpectedROM] = nics.map { nic, legacy, legacyLength, efiLength, efi in
        ExpectedROM(
            file: "efi-\(nic).rom", size: legacyLength + efiLength, legacyID: id(legacy), legacyLength: legacyLength,
            efiID: id(efi ?? legacy), efiLength: efiLength)
    }

    static let legacyOnly: [ExpectedROM] = nics.map { nic, legacy, legacyLength, _, _ in
        ExpectedROM(
            file: "pxe-\(nic).rom", size: legacyLength, legacyID: id(legacy), legacyLength: legacyLength, efiID: nil,
            efiLength: nil)
    }

    static let all = combined + legacyOnly
}
