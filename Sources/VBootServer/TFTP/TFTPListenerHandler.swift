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
        // Answer from the address the client wrote to, so its replies match (RFC 1350 §4).
        var local: DHCPv4.IPv4Address = environment.configuration.listenAddress ?? .any
        if let destination = envelope.metadata?.packetInfo?.destinationAddress.ipv4, destination != .broadcast,
            !destination.isAny
        {
            local = destination
        }
        if case .success(let read) = packet.readRequest, let mac = GRUBChain.machineConfigMAC(read.filename),
            let configs = environment.grubConfigs
        {
            renderGRUBConfig(read, for: mac, configs, from: client, at: local, context: context)
            return
        }
        let outcome = resolve(packet, from: client, at: local).flatMap { found in
            found.map { start($0.0, $0.1, from: client, at: local) } ?? .success(nil)
        }
        finish(outcome, for: client, channel: context.channel)
    }

    /// Starts the transfer, or answers with the error (from any thread: NIO channels take writes
    /// from anywhere).
    private func finish(
        _ outcome: Result<TFTPTransferEngine.Start?, TFTPError>, for client: SocketAddress, channel: any Channel
    ) {
        switch outcome {
        case .success(let start?):
            environment.engines.begin(start)
        case .success(nil):
            return
        case .failure(let error):
            environment.counters.increment(.tftpRequestsRefused)
            channel.writeAndFlush(
                AddressedEnvelope(remoteAddress: client, data: TFTPPacket.error(error).encoded()), promise: nil)
        }
    }

    /// GRUB's `vboot/grub/<mac>.cfg`: the inventory answers asynchronously, then the transfer
    /// starts on this channel's event loop. One render per client address at a time
    /// (`GRUBRenderSlots`): a retransmission meanwhile is dropped, and GRUB asks again.
    private func renderGRUBConfig(
        _ request: TFTPRequest, for mac: HardwareAddress, _ configs: GRUBConfigSource, from client: SocketAddress,
        at local: DHCPv4.IPv4Address, context: ChannelHandlerContext
    ) {
        let slots = environment.grubRenders
        guard let address = client.ipv4, slots.take(address) else {
            environment.counters.increment(.tftpDuplicateRequests)
            environment.logger.debug(
                "tftp: \(client.compact) \(request.filename): a render for this address is running")
            return
        }
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask {
            defer { slots.give(address) }
            return await configs.configuration(for: mac, from: address, reachedAt: local)
        }.whenSuccess { text in
            let outcome = handler.value.start(request, .generated(ByteBuffer(string: text)), from: client, at: local)
            handler.value.finish(outcome, for: client, channel: channel)
        }
    }

    /// The transfer a request starts, nil when it gets no answer (a repeat, or no place now), or
    /// the error that answers it.
    private func start(
        _ request: TFTPRequest, _ payload: Payload, from client: SocketAddress, at local: DHCPv4.IPv4Address
    ) -> Result<TFTPTransferEngine.Start?, TFTPError> {
        switch admit(client, request.filename) {
        case .start: break
        case .none: return .success(nil)
        case .error(let error): return .failure(error)
        }
        let parameters = TFTPTransferParameters.negotiate(
            request.options, fileSize: payload.size, limits: environment.configuration.tftpLimits)
        let source: TFTPBlockSource
        let readAhead: Int
        switch blockSource(payload, parameters, client, request.filename) {
        case .success(let found?): (source, readAhead) = found
        case .success(nil):
            environment.activeTransfers.release(client)
            return .success(nil)
        case .failure(let error):
            environment.activeTransfers.release(client)
            return .failure(error)
        }
        let transfer = TFTPReadTransfer(
            fileSize: payload.size, parameters: parameters,
            lifetime: environment.configuration.tftpResources.transferLifetime)
        return .success(
            TFTPTransferEngine.Start(
                transfer: transfer, source: source, peer: client, local: local, name: request.filename,
                readAheadSize: readAhead))
    }

    /// What a transfer sends: a file, or bytes made for the request.
    private enum Payload {
        case file(BootFileStore.File)
        case generated(ByteBuffer)

        var size: Int {
            switch self {
            case .file(let file): file.size
            case .generated(let data): data.readableBytes
            }
        }
    }

    /// The read request and what it gets, nil when it gets no answer yet, or the error that
    /// answers the packet.
    private func resolve(
        _ packet: TFTPPacket, from client: SocketAddress, at local: DHCPv4.IPv4Address
    ) -> Result<(TFTPRequest, Payload)?, TFTPError> {
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
        if IPXEAutoexec.isTFTPName(request.filename) {
            return autoexec(request, from: client, at: local).map { (request, .generated($0)) }
        }
        if GRUBChain.isBootstrapName(request.filename) {
            return .success((request, .generated(ByteBuffer(string: GRUBChain.bootstrap))))
        }
        switch environment.store.resolveTFTP(request.filename) {
        case .success(let file): return .success((request, .file(file)))
        case .failure(.checking):
            // Clients retransmit a read request that gets no answer (RFC 1350 §2); an error
            // would end the boot (GRUB does not ask again), silence lets the hash finish.
            environment.logger.info(
                "tftp: \(client.compact) \(request.filename): being checked against its image's manifest; no answer yet"
            )
            return .success(nil)
        case .failure(let failure):
            environment.logger.info("tftp: \(client.compact) \(request.filename): \(failure)")
            switch failure {
            case .notFound: return .failure(TFTPError(.fileNotFound, "file not found"))
            case .refused(let why): return .failure(TFTPError(.accessViolation, why))
            case .unverified: return .failure(TFTPError(.accessViolation, "not what its image's manifest names"))
            case .checking: return .success(nil)
            }
        }
    }

    /// `autoexec.ipxe` for a client that reached this server at `local`: the script sends it
    /// to vboot's HTTP listener at the same address.
    private func autoexec(
        _ request: TFTPRequest, from client: SocketAddress, at local: DHCPv4.IPv4Address
    ) -> Result<ByteBuffer, TFTPError> {
        let autoexec = environment.autoexec
        if let script = autoexec.script(reachedAt: local, httpPort: environment.configuration.httpPort) {
            return .success(ByteBuffer(string: script))
        }
        let why = autoexec.template == nil ? "no ipxe/embed.ipxe to make it from" : "no server address to put in it"
        environment.logger.info("tftp: \(client.compact) \(request.filename): not found (\(why))")
        return .failure(TFTPError(.fileNotFound, "file not found"))
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

    /// Where the blocks come from: generated bytes as they are, a file's shared in-memory copy,
    /// else the file with a read-ahead buffer from the budget; nil while the budget has no block to spare (no answer: the
    /// client's retransmission comes back later).
    private func blockSource(
        _ payload: Payload, _ parameters: TFTPTransferParameters, _ client: SocketAddress, _ filename: String
    ) -> Result<(TFTPBlockSource, readAhead: Int)?, TFTPError> {
        let file: BootFileStore.File
        switch payload {
        case .file(let found): file = found
        case .generated(let data): return .success((.generated(data), 0))
        }
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
