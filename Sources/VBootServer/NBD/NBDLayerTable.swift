import NIOConcurrencyHelpers

/// The machines' layers in use, one per image and machine: every connection for a machine
/// shares its layer's one `BlockOverlay` (one map in memory, so a reconnecting client and the
/// connection it replaces never write two maps of one file).
///
/// A new connection takes a layer over: the one holding it is told to close (a machine that
/// rebooted or reconnected is the same machine). A scratch layer belongs to one boot: the same
/// boot's reconnect (nbd-client's `-persist`, under a mounted root) gets it back, a new boot
/// starts afresh; after an unclean drop it waits `grace` for that reconnect, a clean disconnect
/// ends it. A persistent layer is closed when its last connection ends (its data is on disk).
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
    private var entries: [String: Entry] = [:]
    private var nextHolder: UInt64 = 0

    init(grace: Duration) { self.grace = grace }

    /// Layers in the table (held, or waiting for their machine's reconnect).
    var count: Int { entries.count }

    func claim(
        _ key: String, layer: NBDExports.Layer, make: () throws -> BlockOverlay,
        takeOver: @escaping @Sendable () -> Void
    ) throws -> Claim {
        sweep()
        let previous = entries[key]
        let same = previous?.layer == layer ? previous : nil
        let overlay = try same?.overlay ?? make()
        // Told after the new layer is ready: a failed open leaves the old connection alone.
        previous?.takeOver?()
        nextHolder += 1
        var entry = same ?? Entry(overlay: overlay, layer: layer)
        entry.holder = nextHolder
        entry.takeOver = takeOver
        entry.live.insert(nextHolder)
        entry.idleSince = nil
        entries[key] = entry
        return Claim(key: key, holder: nextHolder, overlay: overlay)
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
        entries = entries.filter { _, entry in
            guard let idleSince = entry.idleSince else { return true }
            return idleSince.duration(to: now) < grace
        }
    }
}
