import DHCPv4
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import TFTP

/// The TFTP listener (RFC 1350): answers read requests on port 69 and runs each transfer on
/// its own socket (a new transfer ID), confined to the boot-file store.
public struct TFTPService: Service {
    let environment: TFTPEnvironment
    let onBound: @Sendable (Int) -> Void

    init(environment: TFTPEnvironment, onBound: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.environment = environment
        self.onBound = onBound
    }

    public func run() async throws {
        let environment = self.environment
        try environment.engine.start()
        let configuration = environment.configuration
        let host = configuration.listenAddress?.description ?? "0.0.0.0"
        let port = configuration.tftpPort
        do {
            try await ListenerLoop.run(
                name: "tftp", logger: environment.logger,
                bind: {
                    do {
                        return [
                            try await UDPSocket.bind(
                                group: MultiThreadedEventLoopGroup.singleton, host: host, port: port
                            ) {
                                channel in
                                channel.eventLoop.makeCompletedFuture {
                                    try channel.pipeline.syncOperations.addHandler(
                                        TFTPListenerHandler(environment: environment))
                                }
                            }
                        ]
                    } catch {
                        throw StartupError(
                            "TFTP cannot listen on \(host) UDP port \(port): \(error)\(BindAdvice.text(port: port, error: error) ?? "")"
                        )
                    }
                },
                onBound: { channels in
                    let bound = channels.first?.localAddress?.port ?? port
                    onBound(bound)
                    environment.logger.info("tftp: listening on \(host) UDP \(bound)")
                })
        } catch {
            await environment.engine.stop()
            throw error
        }
        await environment.engine.stop()
    }
}

struct TFTPEnvironment: Sendable {
    var configuration: ServerConfiguration
    var store: BootFileStore
    var recorder: BootEventRecorder
    var counters: ServerCounters
    var logger: Logger
    let activeTransfers: ActiveTransfers
    let sharedFiles: SharedFileCopies
    let notices = LimitNotices()
    let engine: TFTPTransferEngine

    init(
        configuration: ServerConfiguration, store: BootFileStore, recorder: BootEventRecorder,
        counters: ServerCounters, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
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
        engine = TFTPTransferEngine(
            counters: counters, logger: logger, recorder: recorder, activeTransfers: active, sharedFiles: shared,
            notices: notices)
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

/// Port 69: turns a read request into a transfer, or an error packet.
final class TFTPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let environment: TFTPEnvironment

    init(environment: TFTPEnvironment) { self.environment = environment }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket(parsing: envelope.data)
        } catch {
            environment.counters.increment(.tftpPacketsMalformed)
            environment.logger.debug("tftp: dropped malformed packet from \(client.compact): \(error)")
            return
        }
        switch start(packet, from: client, to: envelope.metadata?.packetInfo?.destinationAddress.ipv4) {
        case .success(let start?):
            environment.engine.begin(start)
        case .success(nil):
            return
        case .failure(let error):
            environment.counters.increment(.tftpRequestsRefused)
            context.writeAndFlush(
                wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: TFTPPacket.error(error).encoded())),
                promise: nil)
        }
    }

    /// The transfer a packet starts, nil when it gets no answer (a repeat, or no place now), or the
    /// error that answers it.
    private func start(
        _ packet: TFTPPacket, from client: SocketAddress, to destination: DHCPv4.IPv4Address?
    ) -> Result<TFTPTransferEngine.Start?, TFTPError> {
        let request: TFTPRequest
        switch packet.readRequest {
        case .success(let read): request = read
        case .failure(let error):
            // A write is someone's mistake worth a line; stray packets are noise.
            if case .writeRequest(let write) = packet {
                environment.logger.info("tftp: \(client.compact) refused write of \(write.filename): read-only server")
            } else {
                environment.logger.debug("tftp: \(client.compact) refused: \(error.message)")
            }
            return .failure(error)
        }
        let file: BootFileStore.File
        switch environment.store.resolveTFTP(request.filename) {
        case .success(let found): file = found
        case .failure(let failure):
            environment.logger.info("tftp: \(client.compact) \(request.filename): \(failure)")
            switch failure {
            case .notFound: return .failure(TFTPError(.fileNotFound, "file not found"))
            case .refused(let why): return .failure(TFTPError(.accessViolation, why))
            }
        }
        switch admit(client, request.filename) {
        case .admitted: break
        case .unanswered: return .success(nil)
        case .refused(let error): return .failure(error)
        }
        let parameters = TFTPTransferParameters.negotiate(
            request.options, fileSize: file.size, limits: environment.configuration.tftpLimits)
        let source: TFTPBlockSource
        let readAhead: Int
        switch blockSource(file, parameters, client, request.filename) {
        case .success(let found?): (source, readAhead) = found
        case .success(nil):
            environment.activeTransfers.release(client)
            return .success(nil)
        case .failure(let error):
            environment.activeTransfers.release(client)
            return .failure(error)
        }
        // Answer from the address the client wrote to, so its replies match (RFC 1350 §4).
        var local: DHCPv4.IPv4Address = environment.configuration.listenAddress ?? .any
        if let destination, destination != .broadcast, !destination.isAny { local = destination }
        let transfer = TFTPReadTransfer(
            fileSize: file.size, parameters: parameters,
            lifetime: environment.configuration.tftpResources.transferLifetime)
        return .success(
            TFTPTransferEngine.Start(
                transfer: transfer, source: source, peer: client, local: local, name: request.filename,
                readAheadSize: readAhead))
    }

    private enum Admission {
        case admitted
        /// No answer: the client's retry of a request whose transfer runs, or a request the
        /// server has no place for now (the client's retransmission comes back later).
        case unanswered
        case refused(TFTPError)
    }

    private func admit(_ client: SocketAddress, _ filename: String) -> Admission {
        let counters = environment.counters
        switch environment.activeTransfers.admit(client) {
        case .admitted:
            return .admitted
        case .duplicate:
            counters.increment(.tftpDuplicateRequests)
            environment.logger.debug("tftp: \(client.compact) \(filename): repeated request, transfer already running")
            return .unanswered
        case .busy:
            // Silence, not an error: a firmware that reads an ERROR gives up on that boot entry,
            // one that hears nothing sends its RRQ again seconds later, when places are free (a
            // 1,000-machine storm lost a third of its machines to "server busy").
            counters.increment(.tftpTransferLimitHits)
            environment.notices.hit(
                "transfers", logger: environment.logger,
                "tftp: \(client.compact) \(filename): \(environment.configuration.maximumTFTPTransfers) transfers already running (--max-tftp-transfers); request left for the client to retry"
            )
            return .unanswered
        case .addressBusy:
            // Unlike a full server, this answers: the limit is the host's own doing (a flood, or
            // a client that leaks transfers), silence would only bring its retransmissions back,
            // and the message tells its operator why. A machine needs two (EDK2's size probe and
            // its download). Code 0 with a message (RFC 1350 §5): 3 means disk full
            // on a write, and clients report it as such.
            counters.increment(.tftpPerAddressLimitHits)
            environment.notices.hit(
                "per-address", logger: environment.logger,
                "tftp: \(client.compact) \(filename): \(environment.configuration.tftpResources.maximumTransfersPerAddress) transfers already running from this address (--max-tftp-transfers-per-address); refused"
            )
            return .refused(TFTPError(.notDefined, "too many transfers from your address"))
        }
    }

    /// Where the blocks come from: the shared in-memory copy, else the file with a read-ahead
    /// buffer from the budget; nil while the budget has no block to spare (no answer: the
    /// client's retransmission comes back later).
    private func blockSource(
        _ file: BootFileStore.File, _ parameters: TFTPTransferParameters, _ client: SocketAddress, _ filename: String
    ) -> Result<(TFTPBlockSource, readAhead: Int)?, TFTPError> {
        let active = environment.activeTransfers
        let copy = environment.sharedFiles.acquire(file.path)
        if let copy, copy.data.readableBytes == file.size { return .success((.shared(copy), 0)) }
        // Changed since it was resolved: this transfer reads the file as it was sized.
        if let copy { environment.sharedFiles.release(copy) }
        let crowded = active.count > TFTPTransferSlot.generousReadAheadLimit
        let wanted = min(
            max(
                TFTPTransferSlot.readAheadSize(for: parameters, crowded: crowded),
                parameters.blockSize * parameters.windowSize), file.size)
        guard let granted = active.reserveReadAhead(wanted: wanted, needed: min(parameters.blockSize, file.size))
        else {
            environment.counters.increment(.tftpReadAheadBudgetHits)
            environment.notices.hit(
                "read-ahead", logger: environment.logger,
                "tftp: \(client.compact) \(filename): read-ahead budget of \(environment.configuration.tftpResources.readAheadBudget) bytes spent (--tftp-read-ahead-budget); request left for the client to retry"
            )
            return .success(nil)
        }
        if granted < wanted { environment.counters.increment(.tftpReadAheadReduced) }
        do {
            return .success((.file(try FileReader(path: file.path)), granted))
        } catch {
            active.giveBackReadAhead(granted)
            environment.logger.error("tftp: \(client.compact) \(filename): \(error)")
            return .failure(TFTPError(.accessViolation, "cannot read file"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        environment.counters.increment(.tftpSocketErrors)
        environment.logger.debug("tftp: socket error \(error)")
    }
}
