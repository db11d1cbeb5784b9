import DHCPv4

/// One step of a machine's boot, for its timeline.
public struct BootEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// A proxy offer or boot-server ACK (or, in full mode, an address offer/ack).
        case dhcp
        case tftp
        /// `/boot.ipxe` served (or refused).
        case script
        /// An HTTP asset or iPXE binary.
        case asset
        /// The installer's callback.
        case callback
        /// An admin or config changed the machine.
        case change
        /// Another server's DHCP answer to the machine, seen by `vboot serve --capture`.
        case wire
    }

    public enum Outcome: String, Hashable, Sendable, CaseIterable {
        case ok
        /// Stopped early by the client (EDK2's tsize probe, a cancelled download).
        case aborted
        case failed
        /// Refused by policy (hold, unknown machine, bad token).
        case refused
    }

    /// Store-assigned, increasing; 0 before it is stored.
    public var id: Int64
    public var mac: HardwareAddress?
    /// Client address, when known.
    public var address: String?
    /// Microseconds since 1970.
    public var at: Int64
    public var kind: Kind
    public var outcome: Outcome
    /// One line for people: what was offered, which file, why refused.
    public var summary: String
    /// Machine-readable facts: firmware, file, bytes, duration_ms, options.
    public var details: [String: String]
    /// Which vboot server recorded it (several may share a PostgreSQL store).
    public var server: String

    public init(
        id: Int64 = 0, mac: HardwareAddress?, address: String? = nil, at: Int64, kind: Kind, outcome: Outcome,
        summary: String, details: [String: String] = [:], server: String = ""
    ) {
        self.id = id
        self.mac = mac
        self.address = address
        self.at = at
        self.kind = kind
        self.outcome = outcome
        self.summary = summary
        self.details = details
        self.server = server
    }
}
