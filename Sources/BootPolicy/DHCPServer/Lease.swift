import DHCPv4

/// An address's state in the lease table: the store keeps one row per address, so two servers
/// sharing a database can never hand the same address to two machines.
public struct Lease: Hashable, Sendable {
    public enum State: String, Hashable, Sendable, CaseIterable {
        /// Held for the client's REQUEST after an OFFER.
        case offered
        case bound
        /// DECLINEd by a client: in use by something vboot does not know; quarantined.
        case declined
        /// Given back (RELEASE) or expired: free, remembered so the client gets it again.
        case released
    }

    public var address: IPv4Address
    /// nil for a quarantined address.
    public var mac: HardwareAddress?
    public var state: State
    /// Microseconds since 1970.
    public var expiresAt: Int64
    public var hostname: String?
    public var server: String
    /// When the row was last written: for a bound lease, its last ACK.
    public var updatedAt: Int64
    /// The client identifier (RFC 2132 §9.14, option 61) the holder sent, in hex; nil if none.
    public var clientID: String?

    public init(
        address: IPv4Address, mac: HardwareAddress?, state: State, expiresAt: Int64, hostname: String? = nil,
        server: String = "", updatedAt: Int64 = 0, clientID: String? = nil
    ) {
        self.address = address
        self.mac = mac
        self.state = state
        self.expiresAt = expiresAt
        self.hostname = hostname
        self.server = server
        self.updatedAt = updatedAt
        self.clientID = clientID
    }

    /// `message`'s option 61 as stored in `clientID`.
    public static func clientID(of message: DHCPMessage) -> String? {
        guard let bytes = message.option(.clientIdentifier), !bytes.isEmpty else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether the address is taken at `now` (by its MAC, or by quarantine).
    public func isHeld(at now: Int64) -> Bool { state != .released && expiresAt > now }
}
