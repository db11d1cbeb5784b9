import FuzzSupport
import NBD
import NIOCore

// An NBD client's bytes driven by the fuzzer, as vboot's connection feeds them: a byte of
// lookup answers (bit i: the i-th lookup finds the export, else refused or unknown), then
// chunks (16-bit length + bytes) of the client's stream until the input ends. Option haggling
// and, once an export is chosen, requests framed and checked as the connection does. Checks what
// the negotiation promises: every reply it sends parses back, it waits while a lookup is out,
// transmission starts only for an export it was given, framing takes exactly a header and
// WRITE's data (or nothing, or ends the stream), and a request passes the check only inside the
// export and never writes a read-only one.
let export = NBDNegotiation.Export(name: "lab", size: 1 << 20, flags: [.hasFlags, .readOnly])
let writable = NBDNegotiation.Export(name: "lab/m", size: 4096 * 3 + 100, flags: [.hasFlags, .sendFlush])

/// Frames `buffer` as the connection does until it needs more bytes; false when the stream ends.
func frame(_ buffer: inout ByteBuffer, _ chosen: NBDNegotiation.Export) -> Bool {
    while true {
        let before = buffer.readableBytes
        switch NBDRequestFraming.next(&buffer, export: chosen) {
        case .close: return false
        case .needMore(let partial):
            precondition(buffer.readableBytes == before, "bytes taken without a request")
            precondition(partial == (before > 0))
            return true
        case .request(let request, let data):
            // Exactly the header and WRITE's data taken: the next header is where it should be.
            let carried = request.command == .write ? Int(request.length) : 0
            precondition(data.readableBytes == carried && before - buffer.readableBytes == NBDRequest.size + carried)
            precondition(request.command.isKnown)
            precondition(request.command != .write || !chosen.flags.contains(.readOnly))
            guard let problem = NBDRequestCheck.problem(request, export: chosen) else {
                let (end, overflow) = request.offset.addingReportingOverflow(UInt64(request.length))
                precondition(request.command == .flush || (!overflow && end <= chosen.size))
                precondition(!chosen.flags.contains(.readOnly) || [.read, .flush].contains(request.command))
                continue
            }
            precondition(problem != .ok)
        }
    }
}

fuzz { bytes in
    var input = FuzzBytes(bytes)
    let answers = input.byte()
    var lookups = 0
    var negotiation = NBDNegotiation()
    var buffer = ByteBuffer()
    var chosen: NBDNegotiation.Export?
    var steps = 0
    while !input.isAtEnd, steps < 1000 {
        steps += 1
        var chunk = ByteBuffer(bytes: input.chunk())
        buffer.writeBuffer(&chunk)
        if let chosen {
            guard frame(&buffer, chosen) else { return }
            continue
        }
        var effects = negotiation.receive(&buffer)
        while case .lookup(let name, _) = effects.last {
            precondition(negotiation.receive(&buffer).isEmpty, "read on while a lookup was out")
            let found: NBDNegotiation.Lookup =
                answers & (1 << (lookups % 8)) != 0
                ? .export(name.contains("/") ? writable : export) : lookups % 2 == 0 ? .refused("no") : .unknown("no")
            lookups += 1
            effects.removeLast()
            effects += negotiation.resolve(found)
            effects += negotiation.receive(&buffer)
        }
        for effect in effects {
            switch effect {
            case .send(let reply):
                var reply = reply
                // The greeting-less replies: option replies or EXPORT_NAME's size and flags.
                if reply.readableBytes >= 20, reply.getInteger(at: 0, as: UInt64.self) == NBDMagic.optionReply {
                    while reply.readableBytes > 0 { precondition((try? NBDOptionReply.parse(&reply)) != nil) }
                }
            case .transmit(let given):
                precondition(given == export || given == writable)
                precondition(negotiation.isDone)
                chosen = given
                // Requests sent behind the GO, in the same bytes.
                guard frame(&buffer, given) else { return }
            case .close: return
            case .lookup: preconditionFailure("a lookup not last")
            }
        }
    }
}
