import DHCPv4
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
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
    let hotFiles = HotFileCache()
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
        let active = ActiveTransfers()
        activeTransfers = active
        engine = TFTPTransferEngine(counters: counters, logger: logger, recorder: recorder, activeTransfers: active)
    }
}

/// The clients with a transfer running now, across all event loops. A second RRQ from the same
/// address and port while its transfer runs is the same request again (the client's retry, or a
/// duplicate on the path): starting another transfer would answer it from a second TID.
final class ActiveTransfers: Sendable {
    enum Admission { case admitted, busy, duplicate }

    private let peers = Mutex<Set<SocketAddress>>([])

    func admit(_ peer: SocketAddress, limit: Int) -> Admission {
        peers.withLock { peers in
            if peers.contains(peer) { return .duplicate }
            guard peers.count < limit else { return .busy }
            peers.insert(peer)
            return .admitted
        }
    }

    func release(_ peer: SocketAddress) { _ = peers.withLock { $0.remove(peer) } }

    var count: Int { peers.withLock { $0.count } }
}

/// Port 69: turns a read request into a transfer, or an error packet.
final class TFTPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let environment: TFTPEnvironment

    init(environment: TFTPEnvironment) { self.environment = environment }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let counters = environment.counters
        let client = envelope.remoteAddress
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket(parsing: envelope.data)
        } catch {
            counters.increment("tftp_packets_malformed")
            environment.logger.debug("tftp: dropped malformed packet from \(client.compact): \(error)")
            return
        }
        let reject = { (error: TFTPError) in
            counters.increment("tftp_requests_refused")
            context.writeAndFlush(
                self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: TFTPPacket.error(error).encoded())),
                promise: nil)
        }
        let request: TFTPRequest
        switch packet {
        case .readRequest(let read):
            request = read
        case .writeRequest(let write):
            environment.logger.info("tftp: \(client.compact) refused write of \(write.filename): read-only server")
            return reject(TFTPError(.accessViolation, "vboot serves files read-only"))
        case .data, .acknowledgement, .error, .optionAcknowledgement:
            // Stray packet for a finished transfer: RFC 1350 §4 says answer with an error.
            return reject(TFTPError(.unknownTransferID, "no transfer on this port"))
        }
        let mode = request.mode.lowercased()
        guard mode == "octet" || mode == "netascii" else {
            return reject(TFTPError(.illegalOperation, "transfer mode \(request.mode) is not supported"))
        }
        let file: BootFileStore.File
        switch environment.store.resolveTFTP(request.filename) {
        case .success(let found):
            file = found
        case .failure(let failure):
            environment.logger.info("tftp: \(client.compact) \(request.filename): \(failure)")
            switch failure {
            case .notFound: return reject(TFTPError(.fileNotFound, "file not found"))
            case .refused(let why): return reject(TFTPError(.accessViolation, why))
            }
        }
        let limit = environment.configuration.maximumTFTPTransfers
        switch environment.activeTransfers.admit(client, limit: limit) {
        case .admitted:
            break
        case .duplicate:
            counters.increment("tftp_duplicate_requests")
            environment.logger.debug(
                "tftp: \(client.compact) \(request.filename): repeated request, transfer already running")
            return
        case .busy:
            environment.logger.warning(
                "tftp: \(client.compact) \(request.filename): \(limit) transfers already running")
            return reject(TFTPError(.notDefined, "server busy, retry"))
        }
        let parameters = TFTPTransferParameters.negotiate(
            request.options, fileSize: file.size, limits: environment.configuration.tftpLimits)
        let source: TFTPBlockSource
        do {
            if let data = environment.hotFiles.contents(of: file.path), data.readableBytes == file.size {
                source = .memory(data)
            } else {
                source = .file(try FileReader(path: file.path))
            }
        } catch {
            environment.activeTransfers.release(client)
            environment.logger.error("tftp: \(client.compact) \(request.filename): \(error)")
            return reject(TFTPError(.accessViolation, "cannot read file"))
        }
        // Answer from the address the client wrote to, so its replies match (RFC 1350 §4).
        var local: DHCPv4.IPv4Address = environment.configuration.listenAddress ?? .any
        if let destination = envelope.metadata?.packetInfo?.destinationAddress.ipv4, destination != .broadcast,
            !destination.isAny
        {
            local = destination
        }
        let transfer = TFTPReadTransfer(fileSize: file.size, parameters: parameters)
        let crowded = environment.activeTransfers.count > TFTPTransferSlot.generousReadAheadLimit
        environment.engine.begin(
            TFTPTransferEngine.Start(
                transfer: transfer, source: source, peer: client, local: local, name: request.filename,
                readAheadSize: TFTPTransferSlot.readAheadSize(for: parameters, crowded: crowded)))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        environment.counters.increment("tftp_socket_errors")
        environment.logger.debug("tftp: socket error \(error)")
    }
}
