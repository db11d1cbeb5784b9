/// Which read requests may start a transfer now, as a value: one transfer per client address
/// and port (a second RRQ from the same port is that client's retry), at most `limit` in all and
/// at most `perAddressLimit` from one IP address, so one host cannot take every slot.
struct TFTPAdmission: Sendable {
    enum Decision: Hashable, Sendable { case admitted, duplicate, busy, addressBusy }

    struct Peer: Hashable, Sendable {
        /// IPv4 address, network order.
        var address: UInt32
        var port: UInt16
    }

    var limit: Int
    var perAddressLimit: Int
    private(set) var peers: Set<Peer> = []
    private(set) var perAddress: [UInt32: Int] = [:]

    init(limit: Int, perAddressLimit: Int) {
        self.limit = limit
        self.perAddressLimit = perAddressLimit
    }

    var count: Int { peers.count }

    mutating func admit(_ peer: Peer) -> Decision {
        if peers.contains(peer) { return .duplicate }
        // The host's own limit first: its refusal names the reason that is the host's to fix.
        guard perAddress[peer.address, default: 0] < perAddressLimit else { return .addressBusy }
        guard peers.count < limit else { return .busy }
        peers.insert(peer)
        perAddress[peer.address, default: 0] += 1
        return .admitted
    }

    mutating func release(_ peer: Peer) {
        guard peers.remove(peer) != nil else { return }
        let left = perAddress[peer.address, default: 1] - 1
        perAddress[peer.address] = left > 0 ? left : nil
    }
}

/// The bytes that transfers read from disk may hold in read-ahead chunks, together. A transfer
/// asks for its window (blksize × windowsize, up to 4 MiB) and gets what is left of the budget,
/// never less than one block, and never so much that a transfer that may still start could
/// not have its block: the budget keeps `reservePerSlot` for each.
struct TFTPReadAheadBudget: Sendable, Hashable {
    /// One block of the largest blksize (RFC 2348 §2: 65464), rounded up.
    static let reservePerSlot = 64 << 10

    var total: Int
    /// Transfers that may run at once (the admission limit).
    var slots: Int
    private(set) var granted = 0
    private(set) var holders = 0

    init(total: Int, slots: Int) {
        self.total = total
        self.slots = slots
    }

    /// The chunk size for one more transfer: `wanted` or less, at least `needed`; nil when not
    /// even `needed` is left.
    mutating func grant(wanted: Int, needed: Int) -> Int? {
        let free = total - granted
        guard needed <= free else { return nil }
        let reserve = max(0, slots - holders - 1) * Self.reservePerSlot
        let bytes = max(needed, min(wanted, free - reserve))
        granted += bytes
        holders += 1
        return bytes
    }

    mutating func giveBack(_ bytes: Int) {
        granted -= bytes
        holders -= 1
    }
}
