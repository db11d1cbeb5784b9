import Testing
import WireTrace

/// Each cause a verdict names, from a conversation that shows it; and the ones that must not be
/// mistaken for a failure (EDK2's size probe, a retransmitted request).
@Suite struct BootVerdictTests {
    @Test func aWholeChainBootsToItsScriptAndKernel() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftp("ipxe.efi", blocks: 40)
        segment.ipxeDHCP()
        segment.http("/boot.ipxe?mac=52-54-00-00-00-01")
        segment.http("/assets/debian-12/linux", port: 50_002, length: 100_000)
        let verdict = segment.verdict()
        #expect(verdict.outcome == .booted)
        #expect(verdict.cause == .booted)
        #expect(verdict.summary.contains("/boot.ipxe?mac=52-54-00-00-00-01"))
        #expect(verdict.summary.contains("/assets/debian-12/linux (100000 bytes)"))
        #expect(verdict.warnings.isEmpty)
        let transfer = segment.story.transfers[0]
        #expect(transfer.state == "complete")
        #expect(transfer.bytes == 39 * 1468 + 100)
        #expect(segment.story.architecture == "x86-64 UEFI (7)")
        #expect(segment.story.steps.contains { $0.text.hasPrefix("TFTP ipxe.efi: complete, 57352 bytes in ") })
    }

    @Test func noAnswerAtAll() {
        var segment = Segment()
        for _ in 0..<4 { segment.discover() }
        let verdict = segment.verdict()
        #expect(verdict.cause == .noDHCPAnswer)
        #expect(verdict.summary.contains("4 DISCOVER(s)"))
        #expect(segment.story.steps.count == 1)
        #expect(segment.story.steps[0].count == 4)
    }

    @Test func anAddressButNoBootOfferNamesVBootsSilence() {
        var segment = Segment()
        segment.discover()
        segment.offer(from: Segment.site, Segment.siteIP, address: Segment.clientIP)
        segment.requestAndAck()
        let verdict = segment.verdict()
        #expect(verdict.cause == .noBootOffer)
        #expect(verdict.summary.contains("vboot (10.0.0.2) sent no offer"))
        #expect(verdict.advice?.contains("on hold") == true)
    }

    @Test func offersThatNeverGetARequest() {
        var segment = Segment()
        segment.discover()
        segment.offer(from: Segment.site, Segment.siteIP, address: Segment.clientIP)
        segment.offer(from: Segment.vboot, Segment.vbootIP, nextServer: Segment.vbootIP, bootFile: "ipxe.efi")
        segment.discover()
        #expect(segment.verdict().cause == .offersIgnored)
    }

    @Test func aSiteServerOfferingItsOwnBootFileIsNamed() {
        var segment = Segment()
        segment.discover()
        segment.offer(
            from: Segment.site, Segment.siteIP, address: Segment.clientIP, nextServer: Segment.siteIP,
            bootFile: "pxelinux.0")
        segment.offer(from: Segment.vboot, Segment.vbootIP, nextServer: Segment.vbootIP, bootFile: "ipxe.efi")
        segment.requestAndAck(bootFile: "pxelinux.0", nextServer: Segment.siteIP)
        let verdict = segment.verdict()
        #expect(verdict.cause == .competingBootServers)
        #expect(verdict.summary.hasSuffix("and it fetched nothing"))
        #expect(verdict.warnings.count == 2)
        #expect(verdict.warnings.contains { $0.contains("10.0.0.1 offered with an address, boot pxelinux.0") })
        #expect(verdict.warnings.contains { $0.contains("vboot 10.0.0.2 offered proxy, boot ipxe.efi") })
    }

    @Test func followingTheOtherServerIsTheCause() {
        var segment = Segment()
        segment.discover()
        segment.offer(
            from: Segment.site, Segment.siteIP, address: Segment.clientIP, nextServer: Segment.siteIP,
            bootFile: "pxelinux.0")
        segment.offer(from: Segment.vboot, Segment.vbootIP, nextServer: Segment.vbootIP, bootFile: "ipxe.efi")
        segment.requestAndAck(bootFile: "pxelinux.0", nextServer: Segment.siteIP)
        segment.tftp("pxelinux.0", server: (Segment.site, Segment.siteIP), blocks: 2)
        let verdict = segment.verdict()
        #expect(verdict.cause == .competingBootServers)
        #expect(verdict.summary.hasPrefix("it followed 10.0.0.1's boot offer instead of vboot's"))
    }

    @Test func aSecondProxyDHCPWithoutVBootKnownIsStillAWarning() {
        var segment = Segment()
        segment.discover()
        segment.offer(from: Segment.site, Segment.siteIP, address: Segment.clientIP)
        segment.offer(from: Segment.vboot, Segment.vbootIP, nextServer: Segment.vbootIP, bootFile: "ipxe.efi")
        segment.offer(from: Segment.other, Segment.otherIP, nextServer: Segment.otherIP, bootFile: "other.efi")
        segment.requestAndAck()
        segment.tftp("ipxe.efi", blocks: 2)
        segment.ipxeDHCP()
        segment.http("/boot.ipxe")
        let verdict = segment.verdict(vboot: [])
        #expect(verdict.outcome == .booted)
        #expect(verdict.warnings.count == 2)
        #expect(verdict.warnings.contains { $0.hasPrefix("10.0.0.3 offered proxy, boot other.efi") })
    }

    @Test func aTFTPErrorFromTheServer() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftpError("ipxe.efi", port: 1501, code: 1, message: "File not found")
        let verdict = segment.verdict()
        #expect(verdict.cause == .tftpError)
        #expect(verdict.summary.contains("error 1 \"File not found\""))
        #expect(verdict.advice?.contains("has no ipxe.efi") == true)
    }

    @Test func edk2sSizeProbeIsNotAFailure() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftpError("ipxe.efi", port: 1500, code: 8, message: "probe", fromClient: true, afterOACK: true)
        segment.tftp("ipxe.efi", port: 1501, blocks: 2)
        segment.ipxeDHCP()
        segment.http("/boot.ipxe")
        #expect(segment.verdict().cause == .booted)
    }

    @Test func optionsRefusedAfterTheOACK() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftpError("ipxe.efi", port: 1500, code: 8, message: "bad blksize", fromClient: true, afterOACK: true)
        let verdict = segment.verdict()
        #expect(verdict.cause == .tftpOptionsRefused)
        #expect(verdict.summary.contains("blksize 1468"))
    }

    @Test func aStalledTransferNamesTheLastBlockAndTheResends() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftp("ipxe.efi", blocks: 50, stopAfter: 20, resend: 3)
        let verdict = segment.verdict()
        #expect(verdict.cause == .tftpStalled)
        #expect(verdict.summary.contains("stopped at block 20 (29360 of 72032 bytes), 3 block(s) sent again"))
        // Still arriving when the capture ends: in progress, not stalled.
        #expect(segment.verdict(end: segment.time + 1).outcome == .inProgress)
    }

    @Test func iPXEChainingToItself() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftp("ipxe.efi", port: 1501, blocks: 2)
        for port: UInt16 in [1502, 1503, 1504] {
            segment.discover(ipxe: true)
            segment.offer(from: Segment.other, Segment.otherIP, nextServer: Segment.vbootIP, bootFile: "ipxe.efi")
            segment.requestAndAck(ipxe: true)
            segment.tftp("ipxe.efi", port: port, blocks: 2)
        }
        let verdict = segment.verdict()
        #expect(verdict.cause == .ipxeLoop)
        #expect(verdict.summary.contains("iPXE loaded ipxe.efi 4 times"))
    }

    @Test func aKernelThat404s() {
        var segment = Segment()
        segment.toItsScript()
        segment.http("/assets/debian-12/linux", port: 50_002, status: "404 Not Found", length: 10)
        let verdict = segment.verdict()
        #expect(verdict.cause == .httpError)
        #expect(verdict.summary == "HTTP GET /assets/debian-12/linux from 10.0.0.2:8080: 404 Not Found")
    }

    @Test func aDownloadCutShortByTheServer() {
        var segment = Segment()
        segment.toItsScript()
        segment.http("/assets/initrd.gz", port: 50_002, length: 100_000, deliver: 10, close: 0x04)
        let verdict = segment.verdict()
        #expect(verdict.cause == .httpStalled)
        #expect(verdict.summary.contains("stopped after 14000 of 100000 bytes"))
    }

    @Test func aLoaderDownloadedAndNothingAfter() {
        var segment = Segment()
        segment.firmwareDHCP()
        segment.tftp("ipxe.efi", blocks: 5)
        // The firmware gives up on the loader and asks DHCP again (its next boot entry).
        segment.discover()
        let verdict = segment.verdict()
        #expect(verdict.cause == .loaderSilent)
        #expect(verdict.advice?.contains("Secure Boot") == true)
    }
}

extension BootVerdictTests {
    @Test func threeWholeBootsInOneTraceAreNoLoop() {
        var segment = Segment()
        for port: UInt16 in [1501, 1502, 1503] {
            segment.firmwareDHCP()
            segment.tftp("ipxe.efi", port: port, blocks: 2)
            segment.ipxeDHCP()
            segment.http("/boot.ipxe", port: 50_000 + port)
        }
        #expect(segment.verdict().cause == .booted)
    }

    @Test func aScriptThatChainsAnEFIProgramBooted() {
        var segment = Segment()
        segment.toItsScript()
        segment.http("/assets/memtest/memtest86+x64.efi", port: 50_002, length: 150_000)
        let verdict = segment.verdict()
        #expect(verdict.cause == .booted)
        #expect(verdict.summary.hasSuffix("the last /assets/memtest/memtest86+x64.efi (150000 bytes)"))
    }

    @Test func aResponseWithoutALengthEndsWhenTheNextOneStarts() {
        var segment = Segment()
        segment.toItsScript()
        // Chunked (no Content-Length), then the next request on the same connection.
        segment.feed(
            Frames.tcpFrame(
                Segment.client, Segment.clientIP, 50_009, Segment.vboot, Segment.vbootIP, 8080, sequence: 1,
                Array("GET /menu.ipxe HTTP/1.1\r\n\r\n".utf8)))
        segment.feed(
            Frames.tcpFrame(
                Segment.vboot, Segment.vbootIP, 8080, Segment.client, Segment.clientIP, 50_009, sequence: 100,
                Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)))
        segment.feed(
            Frames.tcpFrame(
                Segment.client, Segment.clientIP, 50_009, Segment.vboot, Segment.vbootIP, 8080, sequence: 30,
                Array("GET /assets/linux HTTP/1.1\r\n\r\n".utf8)))
        segment.feed(
            Frames.tcpFrame(
                Segment.vboot, Segment.vbootIP, 8080, Segment.client, Segment.clientIP, 50_009, sequence: 200,
                Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nABCD".utf8)))
        #expect(segment.story.requests.map(\.state) == ["complete", "complete", "complete"])
        #expect(segment.verdict().cause == .booted)
    }
}
