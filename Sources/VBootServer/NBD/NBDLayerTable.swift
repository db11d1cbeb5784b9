import NIOConcurrencyHelpers

/// The machines' layers in use, one per image and machine: every connection for a machine
/// shares its layer's one `BlockOverlay` (one map in memory, so a reconnecting client and the
/// connection it replaces never write two maps of one file).
///
/// A new connection takes a layer over: the one holding it is told to close (a machine that
/// rebooted or reconnected is the same machine). A scratch layer belongs to one boot: the same
/// boot's reconnect gets it back (a client that reconnects; Debian 12's nbd-client does not), a
/// new boot starts afresh; after an unclean drop it waits `grace` for that reconnect, a clean
/// disconnect ends it. A boot whose scratch layer has ended (or began before this vboot
/// started), or an earlier boot than the one running, is refused: never an empty layer under a
/// mounted root. A persistent layer is closed when its last connection ends (its data is on disk).
actor NBDLayerTable {
    private struct Entry {
        init(overlay: BlockOverlay, layer: NBDExports.Layer) {
            self.overlay = overlay
            self.layer = layer
        }

        let overlay: BlockOverlay
        let layer: NBDExports.Layer
        /// The connection that has it now, and how to close that connection.
        var holder: UInt64?
        var takeOver: (@Sendable () -> Void)?
        /// Connections still using the overlay (one taken over may not have closed yet).
        var live: Set<UInt64> = []
        var idleSince: ContinuousClock.Instant?
    }

    /// What a connection holds: give it back with `release`.
    struct Claim: Sendable {
        let key: String
        let holder: UInt64
        let overlay: BlockOverlay
    }

    let grace: Duration
    /// Tokens issued before this: their scratch layers ended with the vboot that ran then.
    let startedAt: UInt64
    private var entries: [String: Entry] = [:]
    /// Per layer, the latest boot whose scratch layer has ended: that boot cannot have it again.
    private var ended: [String: UInt64] = [:]
    private var nextHolder: UInt64 = 0

    init(grace: Duration, startedAt: UInt64) {
        self.grace = grace
        self.startedAt = startedAt
    }

    /// Layers in the table (held, or waiting for their machine's reconnect).
    var count: Int { entries.count }

    func claim(
        _ key: String, layer: NBDExports.Layer, make: () throws -> BlockOverlay,
        takeOver: @escaping @Sendable () -> Void
    ) throws -> Claim {
        sweep()
        let previous = entries[key]
        let same = previous?.layer == layer ? previous : nil
        if case .scratch(let presented) = layer, same == nil {
            try checkNew(key, boot: presented, running: previous?.layer)
        }
        let overlay = try same?.overlay ?? make()
        // A connection that ended while it asked must not close the machine's live one.
        if Task.isCancelled { throw BlockOverlay.OverlayError("\(key): the connection ended while it was opened") }
        // Told after the new layer is ready: a failed open leaves the old connection alone.
        previous?.takeOver?()
        if same == nil, let previous { noteEnd(key, previous.layer) }
        nextHolder += 1
        var entry = same ?? Entry(overlay: overlay, layer: layer)
        entry.holder = nextHolder
        entry.takeOver = takeOver
        entry.live.insert(nextHolder)
        entry.idleSince = nil
        entries[key] = entry
        return Claim(key: key, holder: nextHolder, overlay: overlay)
    }

    /// A scratch layer is made only for a boot that never had one. An empty layer under a
    /// mounted root would corrupt it: a machine whose layer has gone must reboot, and says so
    /// with I/O errors rather than with a broken file system.
    private func checkNew(_ key: String, boot: UInt64, running: NBDExports.Layer?) throws {
        // Boots only move forward: a token older than the scratch layer in use is a stale
        // connection of a boot that has ended, and must not end the one running now.
        if case .scratch(let current)? = running, boot < current {
            throw BlockOverlay.OverlayError("\(key): a token of an earlier boot than the one running")
        }
        if boot < startedAt {
            throw BlockOverlay.OverlayError(
                "\(key): this boot's scratch layer ended when vboot restarted; the machine must reboot")
        }
        if let last = ended[key], boot <= last {
            throw BlockOverlay.OverlayError(
                "\(key): this boot's scratch layer has ended (a clean disconnect, or away longer than \(grace)); the machine must reboot"
            )
        }
    }

    /// Remembers a scratch layer's end, so its boot cannot get an empty one in its place.
    private func noteEnd(_ key: String, _ layer: NBDExports.Layer) {
        guard case .scratch(let boot) = layer else { return }
        ended[key] = max(ended[key] ?? 0, boot)
    }

    /// The connection that held `claim` has ended (`clean`: it said goodbye).
    func release(_ claim: Claim, clean: Bool) {
        guard var entry = entries[claim.key], entry.live.remove(claim.holder) != nil else { return }
        if entry.holder == claim.holder {
            entry.holder = nil
            entry.takeOver = nil
        }
        guard entry.live.isEmpty else {
            entries[claim.key] = entry
            return
        }
        if clean || entry.layer == .persistent {
            noteEnd(claim.key, entry.layer)
            entries[claim.key] = nil
            return
        }
        entry.idleSince = .now
        entries[claim.key] = entry
        let grace = self.grace
        Task {
            try? await Task.sleep(for: grace)
            self.sweep()
        }
    }

    /// Drops scratch layers whose machine has not come back within `grace`.
    func sweep() {
        let now = ContinuousClock.now
        for (key, entry) in entries {
            guard let idleSince = entry.idleSince, idleSince.duration(to: now) >= grace else { continue }
            noteEnd(key, entry.layer)
            entries[key] = nil
        }
    }
}
