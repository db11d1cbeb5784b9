import Foundation
import Testing

@testable import Firmware

/// The real iPXE build: needs an iPXE tree or source tarball in VBOOT_IPXE_SOURCE (scripts/test
/// sets it to the tarball beside the repository), and is reported skipped otherwise, which
/// scripts/test counts against the run. VBOOT_IPXE_CACHE shares build trees with scripts/test's
/// `vboot rom build`, so a tree built there is only relinked here.
@Suite(
    "iPXE build, real",
    .enabled(
        if: ProcessInfo.processInfo.environment["VBOOT_IPXE_SOURCE"] != nil,
        "set VBOOT_IPXE_SOURCE to an iPXE checkout or source tarball to run the real build"))
struct IPXEBuildIntegrationTests {
    @Test(.timeLimit(.minutes(30))) func buildsRelinksAndCombines() throws {
        let environment = ProcessInfo.processInfo.environment
        let source = environment["VBOOT_IPXE_SOURCE"]!
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
            .standardizedFileURL.path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ipxe-build-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        struct Quiet: BuildProgressReporting {
            func report(_ progress: IPXEBuilder.Progress) {}
            func finish() {}
        }
        var job = IPXEBuildJob(
            source: source, embed: (templateFile: "\(root)/ipxe/embed.ipxe", server: "http://10.0.0.2:8080"),
            targets: ["ipxe.efi", "ipxe-arm64.efi", "undionly.kpxe", "virtio-net"], out: "\(work)/out",
            recipe: "\(root)/ipxe", cache: environment["VBOOT_IPXE_CACHE"] ?? "\(work)/cache",
            jobs: ProcessInfo.processInfo.activeProcessorCount)
        _ = try job.run(progress: Quiet())
        let combined = try OptionROM(
            parsing: [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(work)/out/virtio-net.combined.rom"))))
        #expect(combined.images.count == 2)
        #expect(
            combined.problems(expectedPCIID: PCIID(vendor: 0x1af4, device: 0x1000), romSize: nil, requireEFI: true)
                .isEmpty)
        let efi = try Data(contentsOf: URL(fileURLWithPath: "\(work)/out/ipxe.efi"))
        #expect(efi.range(of: Data("http://10.0.0.2:8080".utf8)) != nil, "the embedded script is inside")
        // Cross-compiled: an AArch64 PE image, the name proxyDHCP offers architecture 11.
        let arm64 = try PEImage(parsing: [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(work)/out/ipxe-arm64.efi"))))
        #expect(arm64.machine == .aarch64)
        #expect(arm64.subsystem == .efiApplication)

        // A new server URL: same tree, only the embedded image is rebuilt.
        job.embed = (templateFile: "\(root)/ipxe/embed.ipxe", server: "http://10.0.0.3:8080")
        job.out = "\(work)/out2"
        let started = Date()
        _ = try job.run(progress: Quiet())
        #expect(Date().timeIntervalSince(started) < 60, "a script change relinks, it does not rebuild")
        let relinked = try Data(contentsOf: URL(fileURLWithPath: "\(work)/out2/ipxe.efi"))
        #expect(relinked.range(of: Data("http://10.0.0.3:8080".utf8)) != nil)

        // No script (`--no-embed`: the binary runs autoexec.ipxe): the same tree, nothing of it inside.
        job.embed = nil
        job.targets = ["ipxe.efi"]
        job.out = "\(work)/out3"
        _ = try job.run(progress: Quiet())
        let plain = try Data(contentsOf: URL(fileURLWithPath: "\(work)/out3/ipxe.efi"))
        #expect(plain.range(of: Data("set user-class vboot".utf8)) == nil)
        #expect(relinked.range(of: Data("set user-class vboot".utf8)) != nil)
        let manifest = try JSONDecoder().decode(
            IPXEBuildJob.Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(work)/out3/manifest.json")))
        #expect(manifest.scriptHash == nil && manifest.server == nil)
    }
}
