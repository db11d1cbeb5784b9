import BootPolicy
import DHCPv4
import NIOCore

/// What `vboot serve --capture` adds to timelines: the DHCP answers other servers gave
/// network-boot clients. vboot sees only what reaches it; a site server that also offers a boot
/// file, or a second proxyDHCP, answers the same client on the wire and explains a boot that went
/// elsewhere. A value type, no I/O: the server feeds captured frames, a test feeds a fixture.
///
/// Bounded: boot clients and recent sightings are capped (`tableLimit`) and expire; a repeat of
/// the same answer to the same client within `repeatWindow` is not news (firmware retries).
public struct WireWatch: Sendable {
    /// vboot's own addresses: its answers are on its timeline already.
    public var ownAddresses: Set<IPv4Address>
    /// Clients that asked as network-boot clients, by MAC, with when they last asked.
    private var bootClients: [LinkAddress: Double] = [:]
    private var recent: [Repeat: Double] = [:]
    /// When each full table was last swept: at most once a second, so a flood of made-up MACs
    /// costs a sweep a second, not one per frame.
    private var swept = (clients: -Double.infinity, recent: -Double.infinity)
    /// Frames that were not DHCP after all, or did not parse (counted, never fatal).
    public private(set) var skipped = 0
    /// Boot clients or sightings not tracked because the tables were full of live entries
    /// (`vboot serve` counts them as wire_table_overflow).
    public private(set) var overflow = 0

    /// Kernel-side filter: DHCP client, server and PXE boot server ports.
    public static let filter = "udp and (port 67 or port 68 or port 4011)"
    public static let tableLimit = 4_096
    /// How long after its last question a client's answers are still news (a PXE boot takes
    /// seconds; an installer renewing its lease an hour later is not booting).
    public static let clientWindow = 600.0
    public static let repeatWindow = 30.0

    private struct Repeat: Hashable {
        var mac: LinkAddress
        var server: IPv4Address
        var type: UInt8
        var bootFile: String?
    }

    public init(ownAddresses: Set<IPv4Address>) {
        self.ownAddresses = ownAddresses
    }

    /// One captured frame; a sighting when it is another server's answer to a boot client.
    public mutating func ingest(_ frame: UnsafeRawBufferPointer, linkType: LinkType, at time: Double) -> WireSighting? {
        guard time.isFinite else {
            skipped += 1
            return nil
        }
        guard let headers = try? FrameHeaders.parse(frame, linkType: linkType), case .udp = headers.transport else {
            skipped += 1
            return nil
        }
        let payload = UnsafeRawBufferPointer(
            rebasing: frame[headers.payloadOffset..<headers.payloadOffset + headers.payloadLength])
        guard let message = try? DHCPMessage(parsing: ByteBuffer(bytes: payload)),
            let mac = LinkAddress(message.clientHardwareAddress), let type = message.messageType
        else {
            skipped += 1
            return nil
        }
        if message.op == .bootRequest {
            // Asking as a boot client makes its answers news; its next DHCP as anything else (the
            // installer, the installed system) ends that: the site's lease for it is routine.
            if case .success = BootClient.classify(message) { remember(mac, at: time) } else { bootClients[mac] = nil }
            return nil
        }
        let server = message.serverIdentifier ?? headers.source
        guard [.offer, .ack, .nak].contains(type), !ownAddresses.contains(server),
            !ownAddresses.contains(headers.source),
            let asked = bootClients[mac], time >= asked, time - asked <= Self.clientWindow
        else { return nil }
        let sighting = WireSighting(message, type: type, server: server)
        let key = Repeat(mac: mac, server: server, type: type.rawValue, bootFile: sighting.bootFile)
        // A clock stepped back makes the entry stale, not eternal.
        if let last = recent[key], time >= last, time - last < Self.repeatWindow { return nil }
        // Full of live entries: not recorded either, or a flood of forged answers would push a
        // machine's real history off its timeline.
        guard Self.makeRoom(in: &recent, for: key, olderThan: time - Self.repeatWindow, at: time, swept: &swept.recent)
        else {
            overflow += 1
            return nil
        }
        recent[key] = time
        return sighting
    }

    private mutating func remember(_ mac: LinkAddress, at time: Double) {
        guard
            Self.makeRoom(
                in: &bootClients, for: mac, olderThan: time - Self.clientWindow, at: time, swept: &swept.clients)
        else {
            overflow += 1
            return
        }
        bootClients[mac] = time
    }

    /// True when `key` is in the table or fits, after dropping entries last seen before `cutoff`.
    private static func makeRoom<Key>(
        in table: inout [Key: Double], for key: Key, olderThan cutoff: Double, at time: Double, swept: inout Double
    ) -> Bool {
        if table[key] != nil || table.count < tableLimit { return true }
        guard time - swept >= 1 || time < swept else { return false }
        swept = time
        table = table.filter { $0.value >= cutoff && $0.value <= time }
        return table.count < tableLimit
    }
}

/// Another server's DHCP answer to a network-boot client.
public struct WireSighting: Hashable, Sendable {
    public var mac: HardwareAddress
    public var server: IPv4Address
    public var type: DHCPMessageType
    /// The address offered; nil for a proxy answer.
    public var address: IPv4Address?
    public var bootFile: String?
    public var nextServer: IPv4Address?
    public var menu: [String]?
    /// `PXEClient` in option 60: a PXE client takes boot instructions from it.
    public var pxeVendorClass: Bool

    init(_ message: DHCPMessage, type: DHCPMessageType, server: IPv4Address) {
        mac = message.clientHardwareAddress
        self.server = server
        self.type = type
        address = message.yiaddr.isAny ? nil : message.yiaddr
        bootFile = BootTrace.bootFile(of: message)
        nextServer = message.siaddr.isAny ? nil : message.siaddr
        menu = BootTrace.bootMenu(of: message)
        pxeVendorClass = message.vendorClassIdentifier?.hasPrefix(ProxyDHCPResponder.pxeClientVendorClass) == true
    }

    /// It tells the client where to boot from: the client may follow it instead of vboot.
    public var competes: Bool { type != .nak && (bootFile != nil || menu != nil || pxeVendorClass) }

    /// What the server sent: `sent OFFER: address 10.0.0.5, boot pxelinux.0`.
    public var answer: String {
        var text = "sent \(type)"
        if address == nil, type != .nak { text += " (proxy)" }
        let offered = BootTrace.offered(
            address: address?.description, nextServer: nextServer?.description, server: server.description,
            bootFile: bootFile, menu: menu)
        return offered.map { text + ": " + $0 } ?? text
    }

    /// One line for the timeline: who answered, with what, and why it matters.
    public var summary: String {
        "seen on the wire: \(server) \(answer)"
            + (competes ? " (a competing boot offer: the client may boot from it instead of vboot)" : "")
    }

    /// Machine-readable facts for the timeline event.
    public var details: [String: String] {
        var details = ["server": server.description, "message": "\(type)", "competes": competes ? "true" : "false"]
        if let address { details["address"] = address.description }
        if let bootFile { details["boot_file"] = bootFile }
        if let nextServer { details["next_server"] = nextServer.description }
        if let menu { details["menu"] = menu.joined(separator: ", ") }
        return details
    }
}
