import NBD
import NIOCore
import Testing

/// Option haggling as a value: what the server answers each option with.
@Suite("NBD negotiation")
struct NBDNegotiationTests {
    static let lab = NBDNegotiation.Export(name: "lab", size: 1 << 20, flags: [.hasFlags, .readOnly])

    static func lookup(_ name: String) -> NBDNegotiation.Lookup {
        switch name {
        case "lab": .export(lab)
        case "lab/52-54-00-00-00-09": .refused("not this address's machine")
        default: .unknown("no export \(name)")
        }
    }

    /// Receives, answering each `.lookup` at once from `lookup`, as a connection does later.
    static func drive(_ negotiation: inout NBDNegotiation, _ input: inout ByteBuffer) -> [NBDNegotiation.Effect] {
        var effects = negotiation.receive(&input)
        while case .lookup(let name, _) = effects.last {
            effects.removeLast()
            effects += negotiation.resolve(lookup(name))
            effects += negotiation.receive(&input)
        }
        return effects
    }

    static func client(_ flags: NBDHandshakeFlags, _ options: [NBDOption]) -> ByteBuffer {
        var buffer = ByteBuffer()
        NBDClientFlags(flags: flags).encode(into: &buffer)
        for option in options { option.encode(into: &buffer) }
        return buffer
    }

    static func replies(_ effects: [NBDNegotiation.Effect]) throws -> [NBDOptionReply] {
        var all = ByteBuffer()
        for case .send(var bytes) in effects { all.writeBuffer(&bytes) }
        var found: [NBDOptionReply] = []
        while let reply = try NBDOptionReply.parse(&all) { found.append(reply) }
        return found
    }

    static func go(_ name: String) -> NBDOption { NBDOption(type: .go, data: NBDExportRequest(name: name).encode()) }

    @Test func goAnswersWithTheExportThenStartsTransmission() throws {
        var negotiation = NBDNegotiation()
        var input = Self.client(
            [.fixedNewstyle, .noZeroes],
            [NBDOption(type: .structuredReply), NBDOption(type: .list), Self.go("nope"), Self.go("lab")])
        // A request right behind the GO, in the same segment, stays for the transmission phase.
        NBDRequest(command: .read, handle: 7, offset: 0, length: 512).encode(into: &input)
        let effects = Self.drive(&negotiation, &input)
        let replies = try Self.replies(effects)
        #expect(replies.map(\.type) == [.errorUnsupported, .errorPolicy, .errorUnknown, .info, .ack])
        // The reason stays on the server: the client gets the code and a fixed text.
        #expect(String(buffer: replies[2].data) == NBDNegotiation.unknownMessage)
        #expect(effects.last == .transmit(Self.lab))
        #expect(negotiation.isDone && input.readableBytes == NBDRequest.size)
    }

    @Test func aMachineNotThisClientsIsRefusedByPolicy() throws {
        var negotiation = NBDNegotiation()
        var input = Self.client([.fixedNewstyle], [Self.go("lab/52-54-00-00-00-09")])
        let replies = try Self.replies(Self.drive(&negotiation, &input))
        #expect(replies.map(\.type) == [.errorPolicy] && !negotiation.isDone)
    }

    @Test func exportNameAnswersWithSizeFlagsAndZeroesUnlessTheClientSaidNot() throws {
        for (flags, length) in [(NBDHandshakeFlags.fixedNewstyle, 134), ([.fixedNewstyle, .noZeroes], 10)] {
            var negotiation = NBDNegotiation()
            var input = Self.client(flags, [NBDOption(type: .exportName, data: ByteBuffer(string: "lab"))])
            let effects = Self.drive(&negotiation, &input)
            guard case .send(let reply) = effects.first else {
                Issue.record("no reply")
                continue
            }
            #expect(reply.readableBytes == length)
            #expect(reply.getInteger(at: 0, as: UInt64.self) == 1 << 20)
            #expect(effects.last == .transmit(Self.lab))
        }
        // No way to refuse EXPORT_NAME but to hang up.
        var negotiation = NBDNegotiation()
        var input = Self.client([.fixedNewstyle], [NBDOption(type: .exportName, data: ByteBuffer(string: "x"))])
        guard case .close = Self.drive(&negotiation, &input).last else {
            Issue.record("an unknown EXPORT_NAME was not hung up on")
            return
        }
    }

    @Test func partialInputWaitsAndBrokenInputHangsUp() throws {
        var negotiation = NBDNegotiation()
        let whole = Self.client([.fixedNewstyle], [Self.go("lab")])
        var first = whole.getSlice(at: 0, length: 9)!
        #expect(Self.drive(&negotiation, &first).isEmpty)
        var rest = first
        var tail = whole.getSlice(at: 9, length: whole.readableBytes - 9)!
        rest.writeBuffer(&tail)
        #expect(Self.drive(&negotiation, &rest).last == .transmit(Self.lab))

        var unknownFlags = NBDNegotiation()
        var flags = Self.client(NBDHandshakeFlags(rawValue: 1 << 7), [])
        guard case .close = Self.drive(&unknownFlags, &flags).last else {
            Issue.record("client flags the server did not offer were accepted")
            return
        }
        var chatty = NBDNegotiation()
        var many = Self.client([.fixedNewstyle], Array(repeating: NBDOption(type: .list), count: 40))
        let effects = Self.drive(&chatty, &many)
        #expect(try Self.replies(effects).count == NBDNegotiation.optionLimit)
        guard case .close = effects.last else {
            Issue.record("a client sending option after option was not sent away")
            return
        }
        var aborting = NBDNegotiation()
        var abort = Self.client([.fixedNewstyle], [NBDOption(type: .abort)])
        let aborted = Self.drive(&aborting, &abort)
        #expect(try Self.replies(aborted).map(\.type) == [.ack])
    }

    @Test func hagglingWaitsForTheLookupAndOnlyInfoIsNotForTransmission() throws {
        var negotiation = NBDNegotiation()
        let info = NBDOption(type: .info, data: NBDExportRequest(name: "lab").encode())
        var input = Self.client([.fixedNewstyle, .noZeroes], [info, Self.go("lab")])
        #expect(negotiation.receive(&input) == [.lookup(name: "lab", transmission: false)])
        // Nothing more is read while the lookup is out, however much is buffered.
        #expect(negotiation.receive(&input).isEmpty && input.readableBytes > 0)
        #expect(try Self.replies(negotiation.resolve(.export(Self.lab))).map(\.type) == [.info, .ack])
        #expect(negotiation.receive(&input) == [.lookup(name: "lab", transmission: true)])
        // A GO whose device cannot be opened: refused, and haggling goes on.
        #expect(
            try Self.replies(negotiation.resolve(.refused("layer over another base"))).map(\.type) == [.errorPolicy])
        #expect(!negotiation.isDone && negotiation.resolve(.export(Self.lab)).isEmpty)
    }
}
