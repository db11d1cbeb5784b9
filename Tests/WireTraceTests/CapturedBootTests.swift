import Foundation
import PacketCapture
import Testing
import WireTrace

/// Captures the e2e rig recorded on its bridge while real firmware booted through vboot (see
/// Fixtures/README.md), read through libpcap as `vboot trace --read` reads them.
@Suite struct CapturedBootTests {
    static func report(_ name: String, vboot: Set<String> = ["10.77.0.2"]) throws -> TraceReport {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "pcap", subdirectory: "Fixtures"))
        let capture = try PacketCapture.open(file: url.path)
        let linkType = LinkType(rawValue: capture.linkType)
        var trace = BootTrace(httpPorts: [8080])
        while try capture.next({ bytes, _, time in trace.ingest(bytes, linkType: linkType, at: time) }) == .packet {}
        return TraceReport(trace, context: VerdictContext(vboot: vboot, end: trace.lastFrame ?? 0))
    }

    @Test func ovmfThroughProxyDHCPAndTFTPToItsScript() throws {
        let report = try Self.report("ovmf-proxy-ipxe-script")
        #expect(report.stories.map(\.mac) == ["52:54:00:e2:e0:0a"])
        let story = report.stories[0]
        #expect(story.verdict?.cause == .booted)
        #expect(story.verdict?.summary == "fetched its script /boot.ipxe?mac=52-54-00-e2-e0-0a")
        #expect(story.verdict?.warnings == [])
        // EDK2's size probe, then the transfer itself.
        #expect(story.transfers.map(\.state) == ["error", "complete"])
        #expect(story.transfers[1].bytes == 850_528)
        #expect(story.transfers[1].acknowledged?["windowsize"] == "4")
        #expect(story.dhcp.fromIPXE == 2)
        #expect(report.servers.map(\.address) == ["10.77.0.1", "10.77.0.2"])
        #expect(report.skipped.values.reduce(0, +) + report.decoded <= report.frames)
    }

    @Test func secureBootRefusingUnsignedIPXEIsALoaderThatWentSilent() throws {
        let report = try Self.report("ovmf-secure-boot-refuses-ipxe")
        let verdict = try #require(report.stories.first?.verdict)
        #expect(verdict.cause == .loaderSilent)
        #expect(verdict.summary.hasPrefix("it downloaded /ipxe/ipxe.efi in full and then went silent"))
        // It had the same binary over TFTP first: the firmware's next boot entry (HTTP) got it again.
        #expect(report.stories[0].transfers.last?.state == "complete")
    }

    @Test func aFileThatIsNotACaptureIsAClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-not-a-capture-\(getpid())").path
        try Data("this is not a capture\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try PacketCapture.open(file: path)
        } throws: { error in
            "\(error)".hasPrefix("cannot read \(path): ")
        }
        #expect(throws: CaptureError.self) { _ = try PacketCapture.open(file: "/nonexistent/capture.pcap") }
    }

    @Test func aTruncatedCaptureEndsWithAnErrorNotACrash() throws {
        let url = try #require(
            Bundle.module.url(forResource: "ovmf-proxy-ipxe-script", withExtension: "pcap", subdirectory: "Fixtures"))
        let whole = try Data(contentsOf: url)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-cut-\(getpid()).pcap").path
        try whole.prefix(whole.count / 2 + 7).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let capture = try PacketCapture.open(file: path)
        var trace = BootTrace(httpPorts: [8080])
        var frames = 0
        var ending: String?
        do {
            while try capture.next({ bytes, _, time in trace.ingest(bytes, linkType: .ethernet, at: time) }) == .packet
            {
                frames += 1
            }
        } catch {
            ending = error.description
        }
        #expect(frames > 20)
        #expect(ending?.contains("truncated") == true)
    }
}

extension CapturedBootTests {
    @Test func theSecureBootChainFromShimToTheInstallerKernel() throws {
        let report = try Self.report("ovmf-secure-boot-shim-grub")
        let story = try #require(report.stories.first)
        // shim's and GRUB's optional files are refused on every working boot: not the cause.
        #expect(story.transfers.filter { $0.error?.hasPrefix("error 1 ") == true }.count == 7)
        #expect(story.verdict?.cause == .booted)
        #expect(
            story.verdict?.summary
                == "fetched its script /vboot/grub/52:54:00:e2:e0:1c.cfg, then 2 file(s), the last /debian-12/initrd.gz (40810276 bytes)"
        )
        let sizes = Dictionary(story.transfers.filter { $0.state == "complete" }.map { ($0.file, $0.bytes) }) { a, _ in
            a
        }
        #expect(sizes["bootnetx64.efi"] == 1_048_504)
        #expect(sizes["/debian-12/linux"] == 8_222_656)
    }
}
