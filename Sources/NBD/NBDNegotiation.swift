import NIOCore

/// The server's side of fixed newstyle option haggling as a value: bytes in, effects out. Which
/// exports exist is the caller's: an option that names one ends in `.lookup`, and haggling
/// waits (reading nothing more) until the caller's answer comes back through `resolve`, so the
/// caller may take its time (an image's first hash, the inventory, opening the device).
public struct NBDNegotiation: Sendable {
    /// An export the client may have: what its size and flags tell the client.
    public struct Export: Hashable, Sendable {
        public var name: String
        public var size: UInt64
        public var flags: NBDTransmissionFlags

        public init(name: String, size: UInt64, flags: NBDTransmissionFlags) {
            self.name = name
            self.size = size
            self.flags = flags
        }
    }

    public enum Lookup: Hashable, Sendable {
        case export(Export)
        /// No such export (`NBD_REP_ERR_UNKNOWN`).
        case unknown(String)
        /// There, but not for this client (`NBD_REP_ERR_POLICY`).
        case refused(String)
    }

    public enum Effect: Hashable, Sendable {
        case send(ByteBuffer)
        /// Find the export `name`; `transmission` when it is to be used (GO, EXPORT_NAME), not
        /// only described (INFO): then the device must be opened before the answer, so that
        /// success is only ever sent for an export that works. Answer with `resolve`.
        case lookup(name: String, transmission: Bool)
        /// Haggling is over: requests follow for this export.
        case transmit(Export)
        /// End the connection (after anything sent before), with the reason for the log; nil
        /// when the client said goodbye.
        case close(String?)
    }

    /// The handshake flags this server offers.
    public static let serverFlags: NBDHandshakeFlags = [.fixedNewstyle, .noZeroes]
    /// What an error reply says, whatever the reason (which the server logs).
    public static let unknownMessage = "no such export"
    public static let refusedMessage = "not for this client"
    /// Options one connection may send: a client that only ever asks is sent away.
    public static let optionLimit = 32

    private enum Phase: Hashable, Sendable {
        case clientFlags, haggling, done
        /// `.lookup` sent for this option's export name.
        case awaiting(NBDOptionType, name: String)
    }

    private var phase = Phase.clientFlags
    private var clientFlags: NBDHandshakeFlags = []
    private var options = 0

    public init() {}

    /// The greeting the server sends as soon as the connection is up.
    public static func greeting() -> ByteBuffer {
        var buffer = ByteBuffer()
        NBDGreeting(flags: serverFlags).encode(into: &buffer)
        return buffer
    }

    public var isDone: Bool { phase == .done }

    /// Consumes what it can of `buffer`; bytes after the last complete message stay there (a
    /// request may follow the option that started transmission in the same segment). Stops
    /// after a `.lookup` until `resolve`.
    public mutating func receive(_ buffer: inout ByteBuffer) -> [Effect] {
        var effects: [Effect] = []
        while true {
            switch phase {
            case .done, .awaiting: return effects
            case .clientFlags:
                guard let flags = NBDClientFlags.parse(&buffer) else { return effects }
                guard flags.flags.isSubset(of: Self.serverFlags) else {
                    return effects + end("client flags \(flags.flags.rawValue) this server did not offer")
                }
                clientFlags = flags.flags
                phase = .haggling
            case .haggling:
                let option: NBDOption
                do {
                    guard let parsed = try NBDOption.parse(&buffer) else { return effects }
                    option = parsed
                } catch {
                    return effects + end("\(error)")
                }
                options += 1
                guard options <= Self.optionLimit else {
                    return effects + end("more than \(Self.optionLimit) options")
                }
                effects += answer(option)
            }
        }
    }

    /// The caller's answer to the last `.lookup`; then `receive` goes on with what is buffered.
    public mutating func resolve(_ found: Lookup) -> [Effect] {
        guard case .awaiting(let type, let name) = phase else { return [] }
        phase = .haggling
        switch type {
        case .exportName:
            // No way to say no but to hang up (the option predates option replies).
            guard case .export(let export) = found else { return end("export \"\(name)\" not given") }
            phase = .done
            var reply = ByteBuffer()
            NBDExportNameReply(size: export.size, flags: export.flags, padded: !clientFlags.contains(.noZeroes))
                .encode(into: &reply)
            return [.send(reply), .transmit(export)]
        default:
            // The reason is the caller's to log: a host without credentials learns only the code
            // (not which machines exist, nor what the server's tables or paths say).
            switch found {
            case .unknown: return [reply(.error(type, .errorUnknown, Self.unknownMessage))]
            case .refused: return [reply(.error(type, .errorPolicy, Self.refusedMessage))]
            case .export(let export):
                let info = [
                    reply(.exportInfo(type, size: export.size, flags: export.flags)),
                    reply(NBDOptionReply(option: type, type: .ack)),
                ]
                guard type == .go else { return info }
                phase = .done
                return info + [.transmit(export)]
            }
        }
    }

    private mutating func end(_ reason: String) -> [Effect] {
        phase = .done
        return [.close(reason)]
    }

    private mutating func answer(_ option: NBDOption) -> [Effect] {
        switch option.type {
        case .exportName:
            let name = String(buffer: option.data)
            phase = .awaiting(.exportName, name: name)
            return [.lookup(name: name, transmission: true)]
        case .go, .info:
            guard let request = try? NBDExportRequest(parsing: option.data) else {
                return [reply(.error(option.type, .errorInvalid, "malformed \(option.type == .go ? "GO" : "INFO")"))]
            }
            phase = .awaiting(option.type, name: request.name)
            return [.lookup(name: request.name, transmission: option.type == .go)]
        case .abort:
            phase = .done
            return [reply(NBDOptionReply(option: .abort, type: .ack)), .close(nil)]
        case .list:
            // Export names are machines' names: not for any host that asks.
            return [reply(.error(.list, .errorPolicy, "this server does not list its exports"))]
        default:
            return [reply(.error(option.type, .errorUnsupported, "option \(option.type.rawValue) is not supported"))]
        }
    }

    private func reply(_ reply: NBDOptionReply) -> Effect {
        var buffer = ByteBuffer()
        reply.encode(into: &buffer)
        return .send(buffer)
    }
}

/// Whether a request may be served as asked, given its export: nil, or the error to reply with.
public enum NBDRequestCheck {
    /// The most one read or write moves (the spec's suggested ceiling; Linux sends far less).
    public static let maxLength: UInt32 = 32 << 20

    public static func problem(_ request: NBDRequest, export: NBDNegotiation.Export) -> NBDErrno? {
        let writes: Set<NBDCommand> = [.write, .trim, .writeZeroes]
        switch request.command {
        case .read, .write, .trim, .writeZeroes:
            // Flags the server did not offer or that do not apply (NO_HOLE is for WRITE_ZEROES).
            let allowed: NBDCommandFlags = request.command == .writeZeroes ? [.fua, .noHole] : [.fua]
            guard request.flags.isSubset(of: allowed) else { return .invalid }
            if writes.contains(request.command), export.flags.contains(.readOnly) { return .notPermitted }
            if request.command != .trim && request.command != .writeZeroes, request.length > maxLength {
                return .overflow
            }
            let (end, overflowed) = request.offset.addingReportingOverflow(UInt64(request.length))
            if overflowed || end > export.size { return request.command == .read ? .invalid : .noSpace }
            return nil
        case .flush:
            return nil
        default:
            return .invalid
        }
    }
}
