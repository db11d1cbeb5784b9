import BootPolicy
import Logging
import NIOConcurrencyHelpers
import NIOCore

struct TFTPEnvironment: Sendable {
    var configuration: ServerConfiguration
    var store: BootFileStore
    var autoexec: IPXEAutoexec
    /// nil: no inventory behind this listener (tests of the transfer path alone).
    var grubConfigs: GRUBConfigSource?
    var recorder: BootEventRecorder
    var counters: ServerCounters
    var logger: Logger
    let activeTransfers: ActiveTransfers
    let sharedFiles: SharedFileCopies
    let notices = LimitNotices()
    let grubRenders = GRUBRenderSlots()
    let engines: TFTPEngines

    init(
        configuration: ServerConfiguration, store: BootFileStore, autoexec: IPXEAutoexec,
        grubConfigs: GRUBConfigSource? = nil, recorder: BootEventRecorder, counters: ServerCounters, logger: Logger
    ) {
        self.grubConfigs = grubConfigs
        self.configuration = configuration
        self.store = store
        self.autoexec = autoexec
        self.recorder = recorder
        self.counters = counters
        self.logger = logger
        let resources = configuration.tftpResources
        let active = ActiveTransfers(
            admission: TFTPAdmission(
                limit: configuration.maximumTFTPTransfers, perAddressLimit: resources.maximumTransfersPerAddress),
            budget: TFTPReadAheadBudget(total: resources.readAheadBudget, slots: configuration.maximumTFTPTransfers))
        activeTransfers = active
        let shared = SharedFileCopies(
            limits: .init(
                maximumFileSize: min(TFTPResourceLimits.largestSharedFile, resources.sharedFileCopies),
                maximumTotal: resources.sharedFileCopies))
        sharedFiles = shared
        let log = TFTPTransferLog(counters: counters, logger: logger, recorder: recorder, notices: notices)
        engines = TFTPEngines(count: configuration.tftpThreads) {
            TFTPTransferEngine(name: $0, log: log, activeTransfers: active, sharedFiles: shared)
        }
        counters.gauge(.tftpTransfersActive) { active.count }
        counters.gauge(.tftpTransfersLimit) { configuration.maximumTFTPTransfers }
        counters.gauge(.tftpTransfersPerAddressLimit) { resources.maximumTransfersPerAddress }
        counters.gauge(.tftpReadAheadBytes) { active.readAheadBytes }
        counters.gauge(.tftpReadAheadBudgetBytes) { resources.readAheadBudget }
        counters.gauge(.tftpSharedCopiesBytes) { shared.totalBytes }
    }
}

/// The clients with a transfer running now, across all event loops, and the read-ahead bytes
/// their transfers hold. A second RRQ from the same address and port while its transfer runs is
/// the same request again (the client's retry, or a duplicate on the path): starting another
/// transfer would answer it from a second TID.
final class ActiveTransfers: Sendable {
    private let state: NIOLockedValueBox<(admission: TFTPAdmission, budget: TFTPReadAheadBudget)>

    init(admission: TFTPAdmission, budget: TFTPReadAheadBudget) {
        state = NIOLockedValueBox((admission, budget))
    }

    func admit(_ peer: SocketAddress) -> TFTPAdmission.Decision {
        state.withLockedValue { $0.admission.admit(TFTPAdmission.Peer(peer)) }
    }

    /// Read-ahead bytes for a transfer read from disk (see `TFTPReadAheadBudget.grant`).
    func reserveReadAhead(wanted: Int, needed: Int) -> Int? {
        state.withLockedValue { $0.budget.grant(wanted: wanted, needed: needed) }
    }

    func giveBackReadAhead(_ bytes: Int) { state.withLockedValue { $0.budget.giveBack(bytes) } }

    func release(_ peer: SocketAddress) { state.withLockedValue { $0.admission.release(TFTPAdmission.Peer(peer)) } }

    var count: Int { state.withLockedValue { $0.admission.count } }

    var readAheadBytes: Int { state.withLockedValue { $0.budget.granted } }
}

extension TFTPAdmission.Peer {
    init(_ address: SocketAddress) {
        let raw = address.sockaddrIPv4
        self.init(address: raw?.sin_addr.s_addr ?? 0, port: raw?.sin_port ?? 0)
    }
}
