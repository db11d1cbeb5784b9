import TFTP

/// Which read requests may start a transfer now, as a value: one transfer per client address
/// and port (a second RRQ from the same port is that client's retry), at most `limit` in all and
/// at most `perAddressLimit` from one IP address, so one host cannot take every slot (a machine
/// needs two at once: EDK2's size probe and its download).
public struct TFTPAdmission: Sendable {
    public enum Decision: Hashable, Sendable { case admitted, duplicate, busy, addressBusy }

    public struct Peer: Hashable, Sendable {
        /// IPv4 address, network order.
        public var address: UInt32
        public var port: UInt16

        public init(address: UInt32, port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    public var limit: Int
    public var perAddressLimit: Int
    public private(set) var peers: Set<Peer> = []
    public private(set) var perAddress: [UInt32: Int] = [:]

    public init(limit: Int, perAddressLimit: Int) {
        self.limit = limit
        self.perAddressLimit = perAddressLimit
    }

    public var count: Int { peers.count }

    public mutating func admit(_ peer: Peer) -> Decision {
        if peers.contains(peer) { return .duplicate }
        // The host's own limit first: its refusal names the reason that is the host's to fix.
        guard perAddress[peer.address, default: 0] < perAddressLimit else { return .addressBusy }
        guard peers.count < limit else { return .busy }
        peers.insert(peer)
        perAddress[peer.address, default: 0] += 1
        return .admitted
    }

    public mutating func release(_ peer: Peer) {
        guard peers.remove(peer) != nil else { return }
        let left = perAddress[peer.address, default: 1] - 1
        perAddress[peer.address] = left > 0 ? left : nil
    }
}

extension TFTPAdmission.Decision {
    /// What the client hears.
    public enum Answer: Hashable, Sendable {
        case start
        /// Nothing: the client sends its request again later.
        case none
        case error(TFTPError)
    }

    public var answer: Answer {
        switch self {
        case .admitted: .start
        // The same request again (the client's retry, or a duplicate on the path): its transfer
        // answers it; a second transfer would answer from a second TID.
        case .duplicate: .none
        // Silence, not an error: a firmware that reads an ERROR gives up on that boot entry, one
        // that hears nothing sends its RRQ again seconds later, when places are free (a
        // 1,000-machine storm lost a third of its machines to "server busy").
        case .busy: .none
        // Unlike a full server, this answers: the limit is the host's own doing (a flood, or a
        // client that leaks transfers), silence would only bring its retransmissions back, and
        // the message tells its operator why. Code 0 with a message (RFC 1350 §5): 3 means disk
        // full on a write, and clients report it as such.
        case .addressBusy: .error(TFTPError(.notDefined, "too many transfers from your address"))
        }
    }
}
