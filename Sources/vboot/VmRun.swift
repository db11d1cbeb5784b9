import ArgumentParser
import Firmware
import Foundation

struct VmRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start a QEMU/OVMF guest with a ROM or VARS file, its serial console on the terminal or in a file.")

    @Option(help: "Option ROM for the NIC (romfile=); default: QEMU's own. 'none' for OVMF's own PXE/HTTP boot.")
    var rom: String?
    @Option(help: "The NIC's MAC address.") var mac: String = "52:54:00:12:34:56"
    @Option(help: "NIC model: virtio-net, e1000, e1000e, rtl8139.") var nic: String = "virtio-net"
    @Option(help: "OVMF code image.") var ovmfCode: String = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    @Option(
        help: "The guest's variable store (created from --vars-template if missing; default: a fresh temporary copy).")
    var vars: String?
    @Option(help: "OVMF variable store template.") var varsTemplate: String = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    @Option(help: "Network: user | tap:NAME (an existing tap) | bridge:NAME (QEMU's bridge helper).") var netdev:
        String = "user"
    @Option(help: "Accelerator: auto (KVM, falling back to TCG when KVM cannot run OVMF), kvm, tcg.") var accel:
        String = "auto"
    @Option(help: "Guest memory in MiB.") var memory: Int = 1024
    @Flag(help: "Leave bootindex off the NIC (let the VARS file decide).") var noBootIndex = false
    @Option(help: "Keep the serial console in this file (it is also shown here unless --quiet).") var serialLog: String?
    @Option(help: "Stop the guest when the serial console shows this text.") var until: String?
    @Option(help: "Stop the guest after this many seconds.") var timeout: Int?
    @Flag(help: "Do not show the serial console.") var quiet = false

    func run() async throws {
        let varsPath =
            vars
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("vboot-vm-\(UUID().uuidString).vars").path
        if !FileManager.default.fileExists(atPath: varsPath) {
            try FileManager.default.copyItem(atPath: varsTemplate, toPath: varsPath)
        }
        defer { if vars == nil { try? FileManager.default.removeItem(atPath: varsPath) } }
        var guest = QEMUGuest(vars: varsPath)
        guest.ovmfCode = ovmfCode
        guest.nic = nic
        guest.mac = mac
        guest.memoryMiB = memory
        guest.network = try VMNetwork.parse(netdev)
        guest.bootIndex = noBootIndex ? nil : 1
        switch rom {
        case nil: break
        case "none": guest.rom = ""
        case let path?:
            guest.rom = path
            guest.romSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        }
        switch accel {
        case "auto": guest.accelerator = QEMURunner.kvmAvailable ? .kvm : .tcg
        case "kvm": guest.accelerator = .kvm
        case "tcg": guest.accelerator = .tcg
        default: throw ValidationError("--accel \(accel): auto, kvm or tcg")
        }
        let log =
            serialLog
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("vboot-vm-\(UUID().uuidString).serial")
            .path
        defer { if serialLog == nil { try? FileManager.default.removeItem(atPath: log) } }
        let quiet = self.quiet
        let runner = QEMURunner(
            guest: guest, serialLog: log, until: until, timeout: timeout.map { .seconds($0) },
            mirror: { text in if !quiet { FileHandle.standardOutput.write(Data(text.utf8)) } })
        var shown = guest
        shown.serial = "file:\(log)"
        note("starting \(shown.commandLine)")
        let outcome = try runner.run(note: note)
        switch outcome {
        case .matched(let seconds): note(String(format: "saw \"%@\" after %.1f s; guest stopped", until ?? "", seconds))
        case .timedOut:
            note("no \"\(until ?? "")\" within \(timeout ?? 0) s; guest stopped")
            throw ExitCode.failure
        case .exited(let status):
            note("QEMU exited with status \(status)")
            if status != 0 { throw ExitCode.failure }
        }
    }

    func note(_ text: String) {
        FileHandle.standardError.write(Data("vboot vm: \(text)\n".utf8))
    }
}
