import NIOConcurrencyHelpers

/// How many NBD connections vboot holds: a machine needs one (two for a moment while it
/// reconnects), so a LAN host that opens many is refused past a few, and the whole stays bounded.
final class NBDAdmission: Sendable {
    static let perAddress = 8
    static let total = 4096

    private let open = NIOLockedValueBox<(total: Int, byAddress: [String: Int])>((0, [:]))

    /// nil when admitted (then `leave` once it ends), else why not.
    func admit(_ address: String) -> String? {
        open.withLockedValue { open in
            let mine = open.byAddress[address, default: 0]
            if mine >= Self.perAddress { return "\(address) already has \(mine) connections" }
            if open.total >= Self.total { return "\(open.total) connections open, the most vboot takes" }
            open.total += 1
            open.byAddress[address] = mine + 1
            return nil
        }
    }

    func leave(_ address: String) {
        open.withLockedValue { open in
            open.total -= 1
            let left = open.byAddress[address, default: 1] - 1
            open.byAddress[address] = left > 0 ? left : nil
        }
    }
}
