import DHCPv4
import Foundation
import PacketCapture
import Testing
import WireTrace

/// `vboot serve --capture`'s decisions: which frames become "seen on the wire" timeline events.
@Suite struct WireWatchTests {
    static let client = "52:54:00:aa:00:01"
    static let site = ("52:54:00:00:00:01", "10.77.0.1")
    static let vboot = IPv4Address("10.77.0.2")!

    /// Every sighting in a fixture the rig recorded (see Fixtures/README.md).
    static func sightings(in name: String, own: Set<IPv4Address>) throws -> [WireSighting] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "pcap", subdirectory: "Fixtures"))
        let capture = try PacketCapture.open(file: url.path, filter: WireWatch.filter)
        let linkType = LinkType(rawValue: capture.linkType)
        var watch = WireWatch(ownAddresses: own)
        var sightings: [WireSighting] = []
        while try capture.next({ bytes, _, time in
            if let sighting = watch.ingest(bytes, linkType: linkType, at: time) { sightings.append(sighting) }
        }) == .packet {}
        return sightings
    }

    @Test func theSiteServersAnswersToRealOVMFAreSeenAndVBootsOwnAreNot() throws {
        let sightings = try Self.sightings(in: "ovmf-proxy-ipxe-script", own: [Self.vboot])
        // The site's OFFER and ACK; the same answers again to iPXE 10 s later are repeats.
        #expect(sightings.map(\.type) == [.offer, .ack])
        #expect(sightings.allSatisfy { $0.server == IPv4Address("10.77.0.1") && !$0.competes })
        #expect(sightings[0].summary == "seen on the wire: 10.77.0.1 sent OFFER: address 10.77.0.138")
        #expect(sightings[0].details["address"] == "10.77.0.138")
        #expect(sightings[0].mac == HardwareAddress("52:54:00:e2:e0:0a"))
    }

    @Test func anotherBootServersProxyOffersCompete() throws {
        // As a second vboot at another address would see the rig's vboot.
        let sightings = try Self.sightings(in: "ovmf-proxy-ipxe-script", own: [IPv4Address("10.77.0.9")!])
        let competing = sightings.filter(\.competes)
        #expect(competing.map(\.bootFile) == ["ipxe.efi", "http://10.77.0.2:8080/boot.ipxe?mac=52-54-00-e2-e0-0a"])
        #expect(competing.allSatisfy { $0.server == Self.vboot && $0.address == nil })
        #expect(
            competing[0].summary
                == "seen on the wire: 10.77.0.2 sent OFFER (proxy): next-server 10.77.0.2, boot ipxe.efi (a competing boot offer: the client may boot from it instead of vboot)"
        )
        #expect(competing[0].details["competes"] == "true")
    }

    /// The client asks, the site answers; `at` for each.
    static func exchange(
        _ watch: inout WireWatch, client: String = client, pxe: Bool = true, askAt: Double, answerAt: Double,
        bootFile: String? = nil
    ) -> WireSighting? {
        var ask = Messages.client(.discover, mac: client)
        if !pxe {
            var message = try! DHCPMessage(parsing: .init(bytes: ask))
            message.options.removeAll { $0.code == .vendorClassIdentifier || $0.code == .clientSystemArchitecture }
            ask = Array(message.encoded(minimumLength: 300).readableBytesView)
        }
        let request = Frames.udpFrame(client, "0.0.0.0", 68, "ff:ff:ff:ff:ff:ff", "255.255.255.255", 67, ask)
        let answer = Frames.udpFrame(
            site.0, site.1, 67, client, "10.77.0.50", 68,
            Messages.server(.offer, mac: client, server: site.1, address: "10.77.0.50", bootFile: bootFile))
        _ = request.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: askAt) }
        return answer.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: answerAt) }
    }

    @Test func onlyNetworkBootClientsAnswersAreNews() {
        var watch = WireWatch(ownAddresses: [Self.vboot])
        // A laptop's DHCP is the site's business, not a boot.
        #expect(Self.exchange(&watch, pxe: false, askAt: 0, answerAt: 0.01) == nil)
        #expect(Self.exchange(&watch, client: "52:54:00:aa:00:02", askAt: 1, answerAt: 1.01) != nil)
    }

    @Test func aSiteServerNamingABootFileCompetes() throws {
        var watch = WireWatch(ownAddresses: [Self.vboot])
        let sighting = try #require(Self.exchange(&watch, askAt: 0, answerAt: 0.01, bootFile: "pxelinux.0"))
        #expect(sighting.competes)
        #expect(sighting.details["boot_file"] == "pxelinux.0")
        #expect(
            sighting.summary.hasSuffix(
                "boot pxelinux.0 (a competing boot offer: the client may boot from it instead of vboot)"))
    }

    @Test func repeatsWithinHalfAMinuteAndAnswersLongAfterTheLastQuestionAreNotNews() {
        var watch = WireWatch(ownAddresses: [Self.vboot])
        #expect(Self.exchange(&watch, askAt: 0, answerAt: 0.01) != nil)
        #expect(Self.exchange(&watch, askAt: 4, answerAt: 4.01) == nil)
        #expect(Self.exchange(&watch, askAt: 40, answerAt: 40.01) != nil)
        // A renewal's answer an hour after the boot: the client's last boot question is too old.
        let late = Frames.udpFrame(
            Self.site.0, Self.site.1, 67, Self.client, "10.77.0.50", 68,
            Messages.server(.ack, mac: Self.client, server: Self.site.1, address: "10.77.0.50"))
        #expect(late.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: 4000) } == nil)
    }

    @Test func theInstallersDHCPAfterTheBootAndNAKsAreNotCompetingOffers() throws {
        var watch = WireWatch(ownAddresses: [Self.vboot])
        #expect(Self.exchange(&watch, askAt: 0, answerAt: 0.01) != nil)
        // The installer asks without PXEClient: the site's boot file for it is its own business.
        #expect(Self.exchange(&watch, pxe: false, askAt: 60, answerAt: 60.01, bootFile: "pxelinux.0") == nil)
        #expect(Self.exchange(&watch, askAt: 120, answerAt: 120.01) != nil)
        let nak = Frames.udpFrame(
            Self.site.0, Self.site.1, 67, Self.client, "10.77.0.50", 68,
            Messages.server(.nak, mac: Self.client, server: Self.site.1, address: "10.77.0.50"))
        let sighting = try #require(nak.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: 121) })
        #expect(sighting.type == .nak && !sighting.competes)
        // vboot's own answer with another server's identifier (a relay, a typo) is still vboot's.
        let own = Frames.udpFrame(
            "52:54:00:00:00:02", "10.77.0.2", 67, Self.client, "10.77.0.50", 68,
            Messages.server(.offer, mac: Self.client, server: "10.77.0.99", bootFile: "ipxe.efi"))
        #expect(own.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: 122) } == nil)
        // A clock stepped back, and a timestamp that is no time at all.
        #expect(Self.exchange(&watch, askAt: 200, answerAt: 150) == nil)
        #expect(Self.exchange(&watch, askAt: .infinity, answerAt: .infinity) == nil)
    }

    @Test func itsTablesAreBoundedAndGarbageIsCounted() {
        var watch = WireWatch(ownAddresses: [Self.vboot])
        let extra = 100
        for index in 0..<(WireWatch.tableLimit + extra) {
            let mac = String(format: "02:00:00:%02x:%02x:%02x", index >> 16, (index >> 8) & 0xFF, index & 0xFF)
            _ = Self.exchange(&watch, client: mac, askAt: Double(index) * 0.001, answerAt: Double(index) * 0.001)
        }
        // The clients past the limit were not remembered: their answers are not news.
        #expect(watch.overflow == extra)
        #expect(Self.exchange(&watch, client: "02:ff:00:00:00:01", askAt: 5, answerAt: 5) == nil)
        let skippedBefore = watch.skipped
        for garbage in [[UInt8](), [0x45], [UInt8](repeating: 0xFF, count: 400)] {
            #expect(garbage.withUnsafeBytes { watch.ingest($0, linkType: .ethernet, at: 1) } == nil)
        }
        #expect(watch.skipped == skippedBefore + 3)
    }
}
