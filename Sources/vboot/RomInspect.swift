import ArgumentParser
import Firmware
import Foundation

struct RomInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what PCI option ROMs and EFI binaries hold, and what is wrong with them.")

    @Argument(help: "ROM (.rom, .efirom) or EFI (.efi) files.") var files: [String]

    @Option(
        name: .customLong("pci-id"),
        help: "The NIC the ROM is for, VVVV:DDDD (e.g. 1af4:1000): every image must name it.")
    var pciID: String?

    @Option(help: "QEMU's romsize= in bytes the ROM must fit.") var romSize: Int?
    @Flag(help: "A ROM without an EFI image is a problem (UEFI guests).") var requireEFI = false
    @Flag(help: "JSON output.") var json = false

    func run() async throws {
        var expected: PCIID?
        if let pciID {
            guard let parsed = PCIID(pciID) else {
                throw ValidationError("--pci-id \(pciID): expected VVVV:DDDD in hex")
            }
            expected = parsed
        }
        var reports: [OptionROMInspection.Report] = []
        var failed = false
        for file in files {
            do {
                reports.append(
                    try OptionROMInspection.inspect(
                        path: file, expectedPCIID: expected, romSize: romSize, requireEFI: requireEFI))
            } catch {
                FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                failed = true
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
        } else {
            for report in reports { print(report.text) }
        }
        if failed || reports.contains(where: { !$0.isValid }) { throw ExitCode.failure }
    }
}
