/// The bytes that transfers read from disk may hold in read-ahead chunks, together. A transfer
/// asks for its window (blksize × windowsize, up to 4 MiB) and gets what is left of the budget,
/// never less than one block, and never so much that a transfer that may still start could
/// not have its block: the budget keeps `reservePerSlot` for each.
public struct TFTPReadAheadBudget: Sendable, Hashable {
    /// One block of the largest blksize (RFC 2348 §2: 65464), rounded up.
    public static let reservePerSlot = 64 << 10

    public var total: Int
    /// Transfers that may run at once (the admission limit).
    public var slots: Int
    public private(set) var granted = 0
    public private(set) var holders = 0

    public init(total: Int, slots: Int) {
        self.total = total
        self.slots = slots
    }

    /// The chunk size for one more transfer: `wanted` or less, at least `needed`; nil when not
    /// even `needed` is left.
    public mutating func grant(wanted: Int, needed: Int) -> Int? {
        let free = total - granted
        guard needed <= free else { return nil }
        let reserve = max(0, slots - holders - 1) * Self.reservePerSlot
        let bytes = max(needed, min(wanted, free - reserve))
        granted += bytes
        holders += 1
        return bytes
    }

    public mutating func giveBack(_ bytes: Int) {
        granted -= bytes
        holders -= 1
    }
}
