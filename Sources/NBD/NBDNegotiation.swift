import NIOCore

/// The server's side of fixed newstyle option haggling as a value: bytes in, effects out. Which
/// exports exist is the caller's (`lookup`); this knows only the protocol.
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
        /// Haggling is over: requests follow for this export.
        case transmit(Export)
        /// End the connection (after anything sent before), with the reason for the log; nil
        /// when the client said goodbye.
        case close(String?)
    }

    /// The handshake flags this server offers.
    public static let serverFlags: NBDHandshakeFlags = [.fixedNewstyle, .noZeroes]
    /// Options one connection may send: a client that only ever asks is sent away.
    public static let optionLimit = 32

    private enum Phase: Hashable, Sendable {
        case clientFlags, haggling, done
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
    /// request may follow the option that started transmission in the same segment).
    public mutating func receive(
        _ buffer: inout ByteBuffer, lookup: (String) -> Lookup
    ) -> [Effect] {
        var effects: [Effect] = []
        while phase != .done {
            switch phase {
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
                effects += answer(option, lookup: lookup)
            case .done:
                break
            }
        }
        return effects
    }

    private mutating func end(_ reason: String) -> [Effect] {
        phase = .done
        return [.close(reason)]
    }

    private mutating func answer(_ option: NBDOption, lookup: (String) -> Lookup) -> [Effect] {
        switch option.type {
        case .exportName:
            let name = String(buffer: option.data)
            // No way to say no but to hang up (the option predates option replies).
            guard case .export(let export) = lookup(name) else { return end("export \"\(name)\" not given") }
            phase = .done
            var reply = ByteBuffer()
            NBDExportNameReply(size: export.size, flags: export.flags, padded: !clientFlags.contains(.noZeroes))
                .encode(into: &reply)
            return [.send(reply), .transmit(export)]
        case .go, .info:
            guard let request = try? NBDExportRequest(parsing: option.data) else {
                return [reply(.error(option.type, .errorInvalid, "malformed \(option.type == .go ? "GO" : "INFO")"))]
            }
            switch lookup(request.name) {
            case .unknown(let why): return [reply(.error(option.type, .errorUnknown, why))]
            case .refused(let why): return [reply(.error(option.type, .errorPolicy, why))]
            case .export(let export):
                let info = [
                    reply(.exportInfo(option.type, size: export.size, flags: export.flags)),
                    reply(NBDOptionReply(option: option.type, type: .ack)),
                ]
                guard option.type == .go else { return info }
                phase = .done
                return info + [.transmit(export)]
            }
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
