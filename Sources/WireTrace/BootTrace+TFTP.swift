import DHCPv4
import NIOCore
import TFTP

extension BootTrace {
    /// A read request to port 69 opens a transfer on the client's port (RFC 1350 §4): the server
    /// answers from a port of its own, so every later packet is matched by the client's side.
    mutating func readRequest(
        _ payload: UnsafeRawBufferPointer, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let request: TFTPRequest
        do {
            guard case .readRequest(let parsed) = try TFTPPacket(parsing: ByteBuffer(bytes: payload)) else {
                skip("TFTP to port 69 that is not a read request")
                return nil
            }
            request = TFTPRequest(
                filename: Self.clip(parsed.filename), mode: Self.clip(parsed.mode),
                options: parsed.options.prefix(16).map { TFTPOption(Self.clip($0.name), Self.clip($0.value)) })
        } catch {
            skip("malformed TFTP request")
            return nil
        }
        decoded += 1
        let client = Endpoint(address: headers.source, port: headers.sourcePort)
        let key = storyKey(mac: headers.linkSource, address: headers.source)
        // A repeated request (no answer yet) is the same transfer.
        if let known = transfers[client], known.server == headers.destination,
            let transfer = stories[known.story]?.transfers[known.index], transfer.file == request.filename,
            transfer.acknowledged == nil, transfer.bytes == 0, transfer.state == "running"
        {
            return record(known.story, at: time, kind: "tftp", Self.requestText(request, server: headers.destination)) {
                story in
                story.transfers[known.index].requests += 1
                story.transfers[known.index].lastPacket = time
            }
        }
        var options: [String: String] = [:]
        for option in request.options { options[option.name.lowercased()] = option.value }
        let transfer = TransferSeen(
            file: request.filename, server: headers.destination.description, started: time, lastPacket: time,
            requested: options)
        var index: Int?
        let step = record(key, at: time, kind: "tftp", Self.requestText(request, server: headers.destination)) {
            story in
            story.address = headers.source.description
            guard story.transfers.count < BootStory.transferLimit else { return }
            story.transfers.append(transfer)
            index = story.transfers.count - 1
        }
        if let index {
            if transfers[client] == nil, transfers.count >= Self.transferPortLimit { evictTransfers(before: time) }
            if transfers[client] != nil || transfers.count < Self.transferPortLimit {
                transfers[client] = TransferRef(story: key, index: index, server: headers.destination)
            } else {
                skip("TFTP transfers beyond \(Self.transferPortLimit) at once")
            }
        }
        return step
    }

    /// A long trace's finished transfers and those quiet for `idleLimit` make room for new ones.
    mutating func evictTransfers(before time: Double) {
        transfers = transfers.filter { _, ref in
            guard let transfer = stories[ref.story]?.transfers[ref.index] else { return false }
            return transfer.state == "running" && time - transfer.lastPacket < Self.idleLimit
        }
    }

    static func requestText(_ request: TFTPRequest, server: IPv4Address) -> String {
        let options = request.options.map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        return "TFTP read \(request.filename) from \(server)" + (options.isEmpty ? "" : " (\(options))")
    }

    /// Any other UDP packet: part of a transfer when one side is a known transfer port.
    mutating func transferPacket(
        _ payload: UnsafeRawBufferPointer, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard payload.count >= 2 else { return nil }
        if let ref = transfers[Endpoint(address: headers.destination, port: headers.destinationPort)],
            ref.server == headers.source
        {
            decoded += 1
            return fromServer(payload, wireLength: headers.wirePayloadLength, ref: ref, at: time)
        }
        if let ref = transfers[Endpoint(address: headers.source, port: headers.sourcePort)],
            ref.server == headers.destination
        {
            decoded += 1
            return fromClient(payload, ref: ref, at: time)
        }
        return nil
    }

    private mutating func fromServer(
        _ payload: UnsafeRawBufferPointer, wireLength: Int, ref: TransferRef, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard stories[ref.story] != nil else { return nil }
        switch TFTPOpcode(rawValue: payload.uint16(at: 0)) {
        case .data where payload.count >= 4:
            let length = wireLength - 4
            let finished = Self.data(
                block: payload.uint16(at: 2), length: length, into: &stories[ref.story]!.transfers[ref.index], at: time)
            stories[ref.story]!.lastSeen = time
            guard finished, let transfer = stories[ref.story]?.transfers[ref.index] else { return nil }
            let took = Self.seconds(transfer.lastPacket - transfer.started)
            var text = "TFTP \(transfer.file): complete, \(transfer.bytes) bytes in \(took) s"
            if transfer.retransmissions > 0 { text += ", \(transfer.retransmissions) blocks sent again" }
            return record(ref.story, at: time, kind: "tftp", text)
        case .optionAcknowledgement:
            guard case .optionAcknowledgement(let options)? = try? TFTPPacket(parsing: ByteBuffer(bytes: payload))
            else { return nil }
            var agreed: [String: String] = [:]
            for option in options.prefix(16) { agreed[Self.clip(option.name.lowercased())] = Self.clip(option.value) }
            return record(ref.story, at: time, kind: "tftp", nil) { story in
                story.transfers[ref.index].acknowledged = agreed
                story.transfers[ref.index].lastPacket = time
                story.transfers[ref.index].lastFromServer = time
            }
        case .error:
            return error(payload, from: "server", ref: ref, at: time)
        default:
            return nil
        }
    }

    private mutating func fromClient(
        _ payload: UnsafeRawBufferPointer, ref: TransferRef, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard stories[ref.story] != nil else { return nil }
        if TFTPOpcode(rawValue: payload.uint16(at: 0)) == .error {
            return error(payload, from: "client", ref: ref, at: time)
        }
        stories[ref.story]!.transfers[ref.index].lastPacket = time
        stories[ref.story]!.lastSeen = time
        return nil
    }

    private mutating func error(
        _ payload: UnsafeRawBufferPointer, from side: String, ref: TransferRef, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard case .error(let error)? = try? TFTPPacket(parsing: ByteBuffer(bytes: payload)),
            let transfer = stories[ref.story]?.transfers[ref.index], transfer.state == "running"
        else { return nil }
        let text = "error \(error.code) \"\(Self.clip(error.message))\""
        return record(ref.story, at: time, kind: "tftp", "TFTP \(transfer.file): \(text) from the \(side)") { story in
            story.transfers[ref.index].state = "error"
            story.transfers[ref.index].error = text
            story.transfers[ref.index].errorFrom = side
            story.transfers[ref.index].lastPacket = time
        }
    }

    /// One DATA block: counted once however often it is sent. True when it is the last block
    /// (shorter than the block size, RFC 1350 §6).
    static func data(block: UInt16, length: Int, into transfer: inout TransferSeen, at time: Double) -> Bool {
        transfer.lastPacket = time
        transfer.lastFromServer = time
        // Block numbers wrap at 65535 (to 0 or 1, RFC 7440 §4): place this one nearest the last.
        var absolute = transfer.lastBlock & ~0xFFFF | Int(block)
        if absolute + 0x8000 < transfer.lastBlock { absolute += 0x1_0000 }
        // A server that wraps 65535 to 1 (not 0) skips no block.
        if block == 1, transfer.lastBlock & 0xFFFF == 0xFFFF, absolute == transfer.lastBlock + 2 {
            transfer.lastBlock += 1
        }
        guard absolute > transfer.lastBlock else {
            transfer.retransmissions += 1
            return false
        }
        // Blocks the capture missed (the kernel dropped them, or it started mid-transfer) were
        // full ones: the server sent a later block, so the client acknowledged them.
        let missed = absolute - transfer.lastBlock - 1
        transfer.unseenBlocks += missed
        transfer.bytes += missed * transfer.blockSize + max(0, length)
        transfer.lastBlock = absolute
        transfer.largestBlock = max(transfer.largestBlock, length)
        guard length < transfer.blockSize, transfer.state == "running" else { return false }
        transfer.state = "complete"
        return true
    }
}
