import DHCPv4
import Testing
import WireTrace

/// Which story a packet lands in: a router's or relay's MAC is not a client's.
@Suite struct BootTraceTests {
    static let router = "02:00:00:00:00:fe"

    @Test func clientsBehindARouterAreToldApartByAddress() {
        var segment = Segment()
        for (index, address) in ["10.9.0.10", "10.9.0.11"].enumerated() {
            segment.feed(
                Frames.udpFrame(
                    Self.router, address, 1500 + UInt16(index), Segment.vboot, Segment.vbootIP, 69,
                    Frames.tftp(.readRequest(.init(filename: "ipxe.efi")))))
        }
        let keys = Set(segment.trace.stories.keys.map(\.description))
        #expect(keys == ["02:00:00:00:00:fe", "ip:10.9.0.11"])
    }

    @Test func aRelayedDiscoverDoesNotGiveTheRelaysAddressToTheClient() {
        var segment = Segment()
        var message = DHCPMessage(
            op: .bootRequest, xid: 7, chaddr: HardwareAddress(Segment.client)!, giaddr: IPv4Address("10.9.0.1")!,
            options: [
                DHCPOption(.messageType, [DHCPMessageType.discover.rawValue]),
                DHCPOption(.vendorClassIdentifier, Messages.pxe),
            ])
        message.hops = 1
        segment.feed(
            Frames.udpFrame(
                Self.router, "10.9.0.1", 67, Segment.vboot, Segment.vbootIP, 67,
                Array(message.encoded(minimumLength: 300).readableBytesView)))
        // The relay's own request: its story, not the client's.
        segment.feed(
            Frames.udpFrame(
                Self.router, "10.9.0.1", 1500, Segment.vboot, Segment.vbootIP, 69,
                Frames.tftp(.readRequest(.init(filename: "ipxe.efi")))))
        #expect(segment.story.address == nil)
        #expect(segment.story.transfers.isEmpty)
    }

    @Test func anAddressFromTheACKBeatsTheFramesSender() {
        var segment = Segment()
        segment.firmwareDHCP()
        // Its TFTP arrives through a router: the ACK said whose address this is.
        segment.feed(
            Frames.udpFrame(
                Self.router, Segment.clientIP, 1500, Segment.vboot, Segment.vbootIP, 69,
                Frames.tftp(.readRequest(.init(filename: "ipxe.efi")))))
        #expect(segment.story.transfers.map(\.file) == ["ipxe.efi"])
    }
}
