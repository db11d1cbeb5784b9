import BootPolicy
import Foundation
import Testing

@testable import VBootServer

/// The script every image carries, run by bash as the machine runs it, against what vboot puts
/// on the kernel line.
@Suite("Diskless images: the machine's variables inside the booted system")
struct ImageIdentityTests {
    @Test func theImagesScriptReadsBackWhatVbootWrote() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-identity-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try ImageIdentity.install(into: root)
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + ImageIdentity.wantsPath)
        #expect(link == "/etc/systemd/system/vboot-machine.service")
        let variables = ["seat": "B-12", "motd": "Hello lab's 100% \\ ✓", "empty_not_sent": ""]
        let commandLine =
            "BOOT_IMAGE=/vmlinuz boot=live vboot.bad-name=x \(MachineArguments.words(variables)) console=ttyS0\n"
        try Data(commandLine.utf8).write(to: URL(fileURLWithPath: root + "/cmdline"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // Sourced by bash as a site's unit would, then printed back one per line.
        process.arguments = [
            "-c",
            "\(root)/\(ImageIdentity.scriptPath) && . \(root)/run/machine.env && printf '%s\\n' \"$motd\" \"$seat\"",
        ]
        process.environment = ["VBOOT_CMDLINE": root + "/cmdline", "VBOOT_RUN": root + "/run", "PATH": "/usr/bin:/bin"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output == "Hello lab's 100% \\ ✓\nB-12\n")
        let env = try String(contentsOfFile: root + "/run/machine.env", encoding: .utf8)
        #expect(!env.contains("bad-name") && !env.contains("empty_not_sent"))
    }
}
