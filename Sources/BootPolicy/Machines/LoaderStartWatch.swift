import DHCPv4

/// A boot loader sent and nothing heard from it: the firmware did not start it (Secure Boot
/// refuses an unsigned iPXE after the download: OVMF says "Access Denied" and moves on) or it
/// could not go on. vboot sees only the transfer and then silence; this turns the silence into a
/// timeline event and a log line that say so. Pure: the recorder shows it every event and asks
/// for what is overdue.
public struct LoaderStartWatch: Sendable {
    /// How long a started loader takes to ask for its script or configuration. iPXE asks within
    /// seconds (a DHCP round, then HTTP); under TCG the slowest seen in the e2e suite is ~20 s.
    public static let defaultTimeout: Int64 = 90_000_000
    /// Bounds memory whatever the LAN sends; the oldest is dropped first.
    public static let capacity = 4096

    struct Waiting: Hashable, Sendable {
        var file: String
        var address: String?
        /// The first send since the machine was last heard from: firmware that refuses a loader
        /// tries its next boot entry, often the same loader again (PXE, then HTTP boot).
        var sentAt: Int64
        var times = 1
    }

    public let timeout: Int64
    private var waiting: [HardwareAddress: Waiting] = [:]

    public init(timeout: Int64 = defaultTimeout) { self.timeout = timeout }

    /// Loaders that, once started, ask vboot for a script (iPXE) or a configuration (shim → GRUB).
    static let watched: Set<String> = Set(
        IPXEBinaries.allNames.filter { $0.hasSuffix(".efi") } + GRUBChain.allNames.filter { !$0.hasPrefix("grub") })

    public var count: Int { waiting.count }

    public mutating func observe(_ event: BootEvent) {
        guard let mac = event.mac else { return }
        switch (event.kind, event.outcome) {
        case (.tftp, .ok), (.asset, .ok):
            guard let file = event.details["file"].map(Self.baseName), Self.watched.contains(file) else { return }
            if waiting[mac] == nil, waiting.count >= Self.capacity,
                let oldest = waiting.min(by: { $0.value.sentAt < $1.value.sentAt })?.key
            {
                waiting[oldest] = nil
            }
            if var again = waiting[mac] {
                again.times += 1
                again.file = file
                waiting[mac] = again
            } else {
                waiting[mac] = Waiting(file: file, address: event.address, sentAt: event.at)
            }
        case (.script, _), (.callback, _):
            heard(from: mac)
        default:
            return
        }
    }

    /// The machine asked for its script or configuration (or called back): its loader started.
    public mutating func heard(from mac: HardwareAddress) { waiting[mac] = nil }

    /// The loaders that have been silent for `timeout` by `now`, as timeline events (each once).
    public mutating func overdue(now: Int64) -> [BootEvent] {
        let late = waiting.filter { now - $0.value.sentAt >= timeout }
        var events: [BootEvent] = []
        for (mac, entry) in late.sorted(by: { $0.value.sentAt < $1.value.sentAt }) {
            waiting[mac] = nil
            let seconds = (now - entry.sentAt) / 1_000_000
            let sent = "\(entry.file) was sent \(seconds) s ago" + (entry.times > 1 ? " (\(entry.times) times)" : "")
            let summary: String
            if GRUBChain.allNames.contains(entry.file) {
                summary =
                    "\(sent) and GRUB has not asked for this machine's configuration: the firmware refused the shim, or GRUB asked another server (behind a site DHCP server, GRUB asks the server in its DHCP ACK: make vboot next-server, or run --dhcp full)"
            } else {
                summary =
                    "\(sent) and nothing has asked for this machine's script since: the firmware did not start it (Secure Boot refuses an unsigned iPXE: give the machine loader grub) or iPXE could not reach vboot's HTTP listener"
            }
            events.append(
                BootEvent(
                    mac: mac, address: entry.address, at: now, kind: .script, outcome: .failed, summary: summary,
                    details: ["file": entry.file, "silent_s": String(seconds), "sent": String(entry.times)]))
        }
        return events
    }

    /// `ipxe/ipxe.efi` (an HTTP asset path) and `/grubx64.efi` are the names the loader knows.
    static func baseName(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }
}
