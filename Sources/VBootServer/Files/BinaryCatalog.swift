import NIOConcurrencyHelpers

/// The installed iPXE binaries, re-read at most every few seconds so a DHCP storm does not
/// stat the disk per packet, yet `apt install ipxe` while running takes effect.
final class BinaryCatalog: Sendable {
    private let store: BootFileStore
    private let state: NIOLockedValueBox<(names: Set<String>, readAt: ContinuousClock.Instant)>
    private static let maximumAge: Duration = .seconds(5)

    init(store: BootFileStore) {
        self.store = store
        self.state = NIOLockedValueBox((Set(store.installedBinaries().keys), .now))
    }

    var names: Set<String> {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            if now - state.readAt > Self.maximumAge {
                state = (Set(store.installedBinaries().keys), now)
            }
            return state.names
        }
    }
}
