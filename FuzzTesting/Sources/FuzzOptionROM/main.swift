import Firmware
import FuzzSupport

// `vboot rom inspect` on untrusted bytes: a PCI expansion ROM (55 AA), or an EFI binary (MZ),
// parsed, validated, described and re-encoded.
fuzz { bytes in
    if let report = try? OptionROMInspection.inspect(
        bytes: bytes, path: "fuzz.rom", expectedPCIID: nil, romSize: 256 * 1024, requireEFI: true)
    {
        _ = report.describe()
        _ = try? report.json()
    }
    guard let rom = try? OptionROM(parsing: bytes, padShortLastImage: 0xFF) else { return }
    _ = rom.problems(expectedPCIID: nil, romSize: 256 * 1024, requireEFI: false)
    _ = rom.describe()
    _ = try? OptionROM(parsing: rom.encode())
}
