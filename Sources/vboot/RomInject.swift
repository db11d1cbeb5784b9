import ArgumentParser
import DHCPv4
import Firmware
import Foundation

struct RomInject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inject",
        abstract:
            "Wire a ROM or a network boot entry into a VM: QEMU arguments, a libvirt domain, or an OVMF variable store.",
        discussion: """
            --qemu              print the QEMU arguments (OVMF code + per-VM VARS copy, NIC with romfile=, bootindex=1)
            --libvirt FILE      edit a libvirt domain: <rom file=…/> and <boot order=…/> on the interface(s), OVMF loader/nvram
            --ovmf-vars FILE    write a network boot entry first into an OVMF variable store (UEFI HTTP boot of a URL, or PXE)
            """)

    @Option(help: "The option ROM (from vboot rom build). Required for --qemu and --libvirt.") var rom: String?
    @Flag(help: "Print QEMU arguments.") var qemu = false
    @Option(help: "Edit this libvirt domain XML.") var libvirt: String?
    @Option(
        name: .customLong("ovmf-vars"),
        help: "Write a boot entry into this OVMF VARS file (created from --vars-template if missing).")
    var ovmfVars: String?

    @Option(help: "NIC model: virtio-net, e1000, e1000e, rtl8139.") var nic: String = "virtio-net"
    @Option(help: "The NIC's MAC address.") var mac: String?
    @Option(help: "OVMF code image.") var ovmfCode: String = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    @Option(help: "OVMF variable store template.") var varsTemplate: String = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    @Option(help: "--qemu: the per-VM VARS copy (created from --vars-template if missing).") var vars: String?
    @Option(help: "--qemu: network, user | tap:NAME | bridge:NAME.") var netdev: String = "user"
    @Option(help: "--libvirt: write here instead of editing in place.") var output: String?
    @Option(help: "--libvirt: the nvram path for the domain.") var nvram: String?

    @Option(help: "--ovmf-vars: UEFI HTTP boot of this URL, e.g. http://10.0.0.2:8080/ipxe/ipxe.efi.") var httpURL:
        String?
    @Flag(help: "--ovmf-vars: a PXE entry for the NIC (needs --mac) instead of HTTP boot.") var pxe = false
    @Option(help: "--ovmf-vars: PCI slot of the NIC, for an entry bound to it (with --mac).") var pciSlot: Int = 2
    @Flag(help: "--ovmf-vars: also set BootNext, so the very next boot takes the entry.") var bootNext = false

    func validate() throws {
        let modes = [qemu, libvirt != nil, ovmfVars != nil].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --qemu, --libvirt FILE, --ovmf-vars FILE") }
        if (qemu || libvirt != nil) && rom == nil { throw ValidationError("--qemu and --libvirt need --rom FILE") }
        if ovmfVars != nil && !pxe && httpURL == nil {
            throw ValidationError("--ovmf-vars needs --http-url URL or --pxe")
        }
        if pxe && mac == nil { throw ValidationError("--pxe needs --mac") }
        guard QEMUGuest.nicDevices[nic] != nil else {
            throw ValidationError("--nic \(nic): one of \(QEMUGuest.nicDevices.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() async throws {
        do {
            if qemu {
                try injectQEMU()
            } else if let ovmfVars {
                try injectVariables(ovmfVars)
            } else {
                try injectLibvirt()
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("vboot rom inject: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Refuses a ROM that QEMU would load but that cannot work for this NIC under OVMF.
    func checkedROM(_ path: String) throws -> Int {
        var ids = NICModel.known.filter { $0.name == nic }.map { PCIID(vendor: $0.vendor, device: $0.device) }
        // virtio-net is 1af4:1000 as a transitional device and 1af4:1041 modern-only (virtio 1.0
        // §4.1.2.1); Debian's ipxe-qemu ROM names 1041. Either fits QEMU's virtio-net-pci.
        if nic == "virtio-net" { ids.append(PCIID(vendor: 0x1af4, device: 0x1041)) }
        let reports = try ids.map { try OptionROMInspection.inspect(path: path, expectedPCIID: $0, requireEFI: true) }
        guard let fitting = reports.first(where: \.isValid) else {
            throw ValidationError("\(path) does not suit a \(nic) NIC under OVMF:\n" + (reports.first?.text ?? ""))
        }
        return fitting.fileSize
    }

    func injectQEMU() throws {
        let romSize = try checkedROM(rom!)
        let varsPath = vars ?? "vboot-\(mac?.replacingOccurrences(of: ":", with: "") ?? "vm")-VARS.fd"
        if !FileManager.default.fileExists(atPath: varsPath) {
            try FileManager.default.copyItem(atPath: varsTemplate, toPath: varsPath)
            FileHandle.standardError.write(Data("created \(varsPath) from \(varsTemplate)\n".utf8))
        }
        var guest = QEMUGuest(vars: varsPath)
        guest.ovmfCode = ovmfCode
        guest.rom = rom
        guest.romSize = romSize
        guest.nic = nic
        if let mac { guest.mac = mac }
        guest.network = try VMNetwork.parse(netdev)
        print(guest.commandLine)
    }

    func injectVariables(_ path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.copyItem(atPath: varsTemplate, toPath: path)
        }
        var store = try VariableStore(contentsOf: path)
        let macBytes = try mac.map(Self.macBytes)
        let option: EFILoadOption
        if pxe {
            option = .pxeBoot(mac: macBytes!, pciDevice: UInt8(pciSlot))
        } else if let macBytes {
            option = .httpBoot(url: httpURL!, mac: macBytes, pciDevice: UInt8(pciSlot))
        } else {
            option = .uriBoot(httpURL!, description: "vboot HTTP boot")
        }
        guard let number = store.unusedBootOptionNumber() else {
            throw ValidationError("\(path) has no free Boot#### number")
        }
        try store.addBootOption(option, number: number, placement: .first, bootNext: bootNext)
        try store.write(to: path)
        print(
            "\(path): Boot\(EFIBootOrder.bootOptionName(number).dropFirst(4)) \"\(option.description)\" first in BootOrder\(bootNext ? ", BootNext set" : "")"
        )
    }

    func injectLibvirt() throws {
        _ = try checkedROM(rom!)
        let absolute = URL(fileURLWithPath: rom!).standardizedFileURL.path
        let injection = LibvirtInjection(
            romPath: absolute, ovmfCode: ovmfCode, varsTemplate: varsTemplate, nvramPath: nvram,
            interfaces: mac.map { .macs([$0]) } ?? .all)
        let edit = try LibvirtDomain.injectFile(injection, path: libvirt!, output: output)
        print("\(output ?? libvirt!):")
        for change in edit.changes { print("  \(change)") }
    }

    static func macBytes(_ text: String) throws -> [UInt8] {
        guard let address = HardwareAddress(text) else { throw ValidationError("--mac \(text) is not a MAC address") }
        return address.bytes
    }
}
