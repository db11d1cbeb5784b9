import NIOCore
import TFTP
import Testing
import WireTrace

/// What a hostile host or a doctored capture file can put in front of the trace: counted,
/// bounded, never a trap.
@Suite struct HostileCaptureTests {
    @Test func implausibleTimestampsAreSkipped() {
        var segment = Segment()
        for time in [Double.nan, -5, 1e17, .infinity] {
            Frames.udpFrame(
                Segment.client, "0.0.0.0", 68, Segment.broadcast, "255.255.255.255", 67,
                Messages.client(.discover, mac: Segment.client)
            ).withUnsafeBytes { _ = segment.trace.ingest($0, linkType: .ethernet, at: time) }
        }
        #expect(segment.trace.skipped["implausible timestamp"] == 4)
        #expect(segment.trace.stories.isEmpty)
    }

    @Test func anOACKsAbsurdBlockSizeIsNotCountedWith() {
        var segment = Segment()
        segment.feed(
            Frames.udpFrame(
                Segment.client, Segment.clientIP, 1500, Segment.vboot, Segment.vbootIP, 69,
                Frames.tftp(.readRequest(TFTPRequest(filename: "ipxe.efi")))))
        segment.feed(
            Frames.udpFrame(
                Segment.vboot, Segment.vbootIP, 41500, Segment.client, Segment.clientIP, 1500,
                Frames.tftp(.optionAcknowledgement([TFTPOption("blksize", "4611686018427387904")]))))
        segment.feed(
            Frames.udpFrame(
                Segment.vboot, Segment.vbootIP, 41500, Segment.client, Segment.clientIP, 1500,
                Frames.data(block: 3, length: 512)))
        let transfer = segment.story.transfers[0]
        #expect(transfer.blockSize == 512)
        #expect(transfer.bytes == 2 * 512 + 512)
        #expect(transfer.unseenBlocks == 2)
    }

    @Test func longNamesAndMessagesAreCut() {
        var segment = Segment()
        let name = String(repeating: "a", count: 1_300)
        segment.tftpError(name, port: 1500, code: 1, message: String(repeating: "m", count: 1_000))
        let transfer = segment.story.transfers[0]
        #expect(transfer.file.utf8.count <= BootTrace.textLimit + 3)
        #expect((transfer.error?.utf8.count ?? 0) < 300)
    }

    @Test func secondsSaturateAndKeepTheirSign() {
        #expect(BootTrace.seconds(-1.5) == "-1.50")
        #expect(BootTrace.seconds(12.345) == "12.35")
        #expect(BootTrace.seconds(.infinity) == "0.00")
        #expect(BootTrace.seconds(1e300) == "1000000000000.00")
    }

    @Test func aServerWrappingToBlockOneSkipsNothing() {
        var segment = Segment()
        segment.feed(
            Frames.udpFrame(
                Segment.client, Segment.clientIP, 1500, Segment.vboot, Segment.vbootIP, 69,
                Frames.tftp(.readRequest(TFTPRequest(filename: "big.img")))))
        for block: UInt16 in [65_534, 65_535, 1, 2] {
            segment.feed(
                Frames.udpFrame(
                    Segment.vboot, Segment.vbootIP, 41500, Segment.client, Segment.clientIP, 1500,
                    Frames.data(block: block, length: 512)))
        }
        let transfer = segment.story.transfers[0]
        #expect(transfer.lastBlock == 65_538)
        #expect(transfer.retransmissions == 0)
    }
}
