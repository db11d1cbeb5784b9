import NIOCore
import TFTP
import Testing

/// Deterministic mutation of sample packets: every truncation and every single-octet change from a
/// fixed set. Parsing must never trap; when it succeeds, encoding the result must parse back to the
/// same packet.
@Suite("TFTP mutation fuzzing")
struct TFTPFuzzTests {
    static let samples: [(String, [UInt8])] =
        TFTPPacketTests.cases.map { ($0.name, $0.wire) } + [
            (
                "EDK2-style RRQ",
                [0, 1] + ascii("EFI/BOOT/BOOTX64.EFI") + [0] + ascii("octet") + [0]
                    + ascii("tsize") + [0] + ascii("0") + [0] + ascii("blksize") + [0] + ascii("1468") + [0]
            )
        ]

    static let replacements: [@Sendable (UInt8) -> UInt8] = [{ $0 ^ 0xFF }, { $0 ^ 0x01 }, { _ in 0 }, { _ in 0x80 }]

    /// nil when the bytes behave as the codec promises; otherwise what went wrong.
    static func check(_ bytes: [UInt8]) -> String? {
        switch tftpParse(bytes) {
        case .failure(.truncated(_, let offset)):
            return offset <= bytes.count ? nil : "truncation offset \(offset) past \(bytes.count)"
        case .failure(.unterminatedString(_, let offset)):
            return offset <= bytes.count ? nil : "string offset \(offset) past \(bytes.count)"
        case .failure(.unknownOpcode(let opcode)):
            return (opcode == 0 || opcode > 6) ? nil : "opcode \(opcode) called unknown"
        case .failure(.danglingOption):
            return nil
        case .success(let packet):
            let encoded = packet.encoded()
            guard case .success(let again) = tftpParse(Array(encoded.readableBytesView)) else {
                return "re-encoding does not parse"
            }
            return again == packet ? nil : "re-encoding parses to \(again), not \(packet)"
        }
    }

    @Test("Every truncation and every octet changed")
    func mutations() {
        var problems: [String] = []
        var checked = 0
        for (name, wire) in Self.samples {
            for length in 0...wire.count {
                checked += 1
                if let problem = Self.check(Array(wire.prefix(length))) {
                    problems.append("\(name) cut at \(length): \(problem)")
                }
            }
            for offset in wire.indices {
                for replace in Self.replacements {
                    var mutated = wire
                    mutated[offset] = replace(wire[offset])
                    checked += 1
                    if let problem = Self.check(mutated) { problems.append("\(name) octet \(offset): \(problem)") }
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(checked > 500)
    }

    @Test("Truncated fixed-size packets report the missing field")
    func truncatedFixedPackets() {
        for opcode: UInt8 in [3, 4] {
            #expect(tftpParse([0, opcode, 0x12]) == .failure(.truncated(field: "block", offset: 2)))
        }
        #expect(tftpParse([0, 5, 0x00]) == .failure(.truncated(field: "error code", offset: 2)))
    }
}
