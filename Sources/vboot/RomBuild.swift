import ArgumentParser
import Firmware
import Foundation
import VBootServer

struct RomBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract:
            "Compile iPXE with vboot's embedded script: ipxe.efi, snponly.efi (x86-64 and arm64), undionly.kpxe and NIC option ROMs."
    )

    @Option(
        help:
            "An iPXE checkout, unpacked tree or source tarball (never modified). Default: clone the commit in ipxe/ipxe.lock."
    )
    var source: String?

    @Option(help: "Clone this branch, tag or commit of the lock's URL instead of the pinned commit.") var ref: String?

    @Option(help: "The embedded script template (default: embed.ipxe in the recipe).") var embed: String?

    @Option(help: "vboot's HTTP address as the machines will see it, e.g. http://10.0.0.2:8080.")
    var server: String?

    @Flag(
        help:
            "Build without an embedded script: an EFI application (default targets ipxe.efi, snponly.efi; nothing else) then runs autoexec.ipxe from where it was loaded, which vboot serve answers with the same script (as for iPXE's own signed ipxe.efi)."
    )
    var noEmbed = false

    @Option(
        name: .customLong("target"),
        help:
            "What to build, repeatable: ipxe.efi, snponly.efi, ipxe-arm64.efi, snponly-arm64.efi (cross-compiled with gcc-aarch64-linux-gnu), undionly.kpxe, or a NIC (virtio-net, e1000, e1000e, rtl8139; MODEL:legacy|efi|combined)."
    )
    var targets: [String] = []

    @Option(help: "Output directory.") var out: String = "out/ipxe"
    @Option(help: "The iPXE recipe: ipxe.lock and config/local/*.h (default ./ipxe, else /usr/share/vboot/ipxe).")
    var recipe: String?
    @Option(help: "Build trees and clones are kept here.") var cache: String = ".vboot/ipxe-cache"
    @Option(help: "Parallel make jobs.") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Also log to QEMU's debug port (0x402; run QEMU with -debugcon file:LOG).") var debugcon = false

    func validate() throws {
        if source != nil && ref != nil { throw ValidationError("give --source DIR or --ref REF, not both") }
        if noEmbed && (server != nil || embed != nil) {
            throw ValidationError("--no-embed builds without a script: no --server or --embed")
        }
        if !noEmbed && server == nil { throw ValidationError("--server URL is needed for the embedded script") }
    }

    func run() async throws {
        do {
            let recipe = recipe ?? ShippedFiles.directory("ipxe")
            let defaults = noEmbed ? IPXEBuildPlan.defaultScriptlessTargets : IPXEBuildPlan.defaultTargets
            var job = IPXEBuildJob(
                source: source,
                embed: server.map { (templateFile: embed ?? recipe + "/embed.ipxe", server: $0) },
                targets: targets.isEmpty ? defaults : targets,
                out: out, recipe: recipe, cache: cache, jobs: jobs)
            job.debugcon = debugcon
            job.ref = ref
            let report = try job.run(progress: ProgressPrinter())
            print(report)
        } catch {
            FileHandle.standardError.write(Data("vboot rom build: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// A bar on a terminal, a line per few percent otherwise (logs, CI).
final class ProgressPrinter: BuildProgressReporting, @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastPrinted = -1
    private let lock = NSLock()

    func report(_ progress: IPXEBuilder.Progress) {
        lock.withLock {
            if isTerminal {
                let width = 30
                var line = "\r  [\(progress.step)"
                if let expected = progress.expectedSteps, expected > 0 {
                    let filled = min(width, progress.step * width / expected)
                    line =
                        "\r  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                        + "] \(progress.step)/\(expected)"
                }
                line += " \(progress.action) \(progress.file)"
                FileHandle.standardError.write(Data((line.prefix(110) + "\u{1B}[K").utf8))
            } else if progress.step / 100 != lastPrinted {
                lastPrinted = progress.step / 100
                FileHandle.standardError.write(
                    Data("  step \(progress.step): \(progress.action) \(progress.file)\n".utf8))
            }
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
