import BootPolicy
import DHCPv4
import Logging
import NIOCore
import TFTP

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
            environment.engines.begin(start)
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
        let file: BootFileStore.File
        switch resolve(packet, from: client) {
        case .success(let found): (request, file) = found
        case .failure(let error): return .failure(error)
        }
        switch admit(client, request.filename) {
        case .start: break
        case .none: return .success(nil)
        case .error(let error): return .failure(error)
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

    /// The read request and the file it names, or the error that answers the packet.
    private func resolve(
        _ packet: TFTPPacket, from client: SocketAddress
    ) -> Result<(TFTPRequest, BootFileStore.File), TFTPError> {
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
        switch environment.store.resolveTFTP(request.filename) {
        case .success(let file): return .success((request, file))
        case .failure(let failure):
            environment.logger.info("tftp: \(client.compact) \(request.filename): \(failure)")
            switch failure {
            case .notFound: return .failure(TFTPError(.fileNotFound, "file not found"))
            case .refused(let why): return .failure(TFTPError(.accessViolation, why))
            }
        }
    }

    /// What BootPolicy's admission answers, recorded.
    private func admit(_ client: SocketAddress, _ filename: String) -> TFTPAdmission.Decision.Answer {
        let decision = environment.activeTransfers.admit(client)
        record(decision, client, filename)
        return decision.answer
    }

    private func record(_ decision: TFTPAdmission.Decision, _ client: SocketAddress, _ filename: String) {
        let counters = environment.counters
        let configuration = environment.configuration
        switch decision {
        case .admitted:
            break
        case .duplicate:
            counters.increment(.tftpDuplicateRequests)
            environment.logger.debug("tftp: \(client.compact) \(filename): repeated request, transfer already running")
        case .busy:
            counters.increment(.tftpTransferLimitHits)
            environment.notices.hit(
                "transfers", logger: environment.logger,
                "tftp: \(client.compact) \(filename): \(configuration.maximumTFTPTransfers) transfers already running (--max-tftp-transfers); request left for the client to retry"
            )
        case .addressBusy:
            counters.increment(.tftpPerAddressLimitHits)
            environment.notices.hit(
                "per-address", logger: environment.logger,
                "tftp: \(client.compact) \(filename): \(configuration.tftpResources.maximumTransfersPerAddress) transfers already running from this address (--max-tftp-transfers-per-address); refused"
            )
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
