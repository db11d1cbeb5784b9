import DHCPv4
import NIOCore
import Testing

/// Deterministic mutation of the golden packets: every truncation and every single-octet change
/// from a fixed set. Parsing must never trap; it either throws a `DHCPParseError` (the only error
/// it can throw, by its typed `throws`) or returns a message, and the outcome must be the one the
/// mutated field calls for.
@Suite("DHCP mutation fuzzing")
struct DHCPFuzzTests {
    static let replacements: [(String, @Sendable (UInt8) -> UInt8)] = [
        ("xor ff", { $0 ^ 0xFF }),
        ("xor 80", { $0 ^ 0x80 }),
        ("xor 01", { $0 ^ 0x01 }),
        ("zero", { _ in 0x00 }),
        ("end", { _ in 0xFF }),
        ("overload", { _ in 52 }),
    ]

    enum Outcome { case parsed(DHCPMessage), failed(DHCPParseError) }

    static func parse(_ bytes: [UInt8]) -> Outcome {
        do { return .parsed(try DHCPMessage(parsing: ByteBuffer(bytes: bytes))) } catch { return .failed(error) }
    }

    /// Touches every typed view, then checks that encoding is stable: what a parsed message encodes
    /// to parses back to the same message.
    static func exercise(_ message: DHCPMessage) -> Bool {
        _ = message.messageType
        _ = message.vendorClassIdentifier
        _ = try? message.clientArchitectures()
        _ = try? message.clientMachineIdentifier()?.description
        _ = try? message.clientNetworkInterface()
        _ = try? message.pxeVendorOptions()?.bootItem
        _ = message.userClass?.strings
        _ = message.serverIdentifier
        _ = message.clientHardwareAddress.description
        _ = message.bootFileName + message.serverHostName
        let encoded = message.encoded(minimumLength: 300)
        guard let again = try? DHCPMessage(parsing: encoded) else { return false }
        var normalized = message
        normalized.trailingPadding = again.trailingPadding
        return again == normalized
    }

    @Test("Every truncation", arguments: Fixture.allCases)
    func truncation(_ fixture: Fixture) throws {
        let bytes = try fixture.bytes()
        var unexpected: [String] = []
        for length in 0..<bytes.count {
            let outcome = Self.parse(Array(bytes.prefix(length)))
            switch outcome {
            case .failed(.truncatedHeader(let reported)) where length < 240 && reported == length:
                continue
            case .failed(.truncatedOption(_, let offset)) where length > 240 && (240..<length).contains(offset):
                continue
            case .parsed(let message) where length >= 240:
                if !Self.exercise(message) { unexpected.append("\(length): unstable re-encode") }
            default:
                unexpected.append("\(length): \(outcome)")
            }
        }
        #expect(unexpected.isEmpty, "\(fixture.rawValue): \(unexpected.prefix(5))")
    }

    @Test("Every octet changed", arguments: Fixture.allCases)
    func octetChanges(_ fixture: Fixture) throws {
        let bytes = try fixture.bytes()
        var unexpected: [String] = []
        var parsedCount = 0
        for offset in bytes.indices {
            for (name, replace) in Self.replacements {
                var mutated = bytes
                mutated[offset] = replace(bytes[offset])
                if mutated == bytes { continue }
                let outcome = Self.parse(mutated)
                switch (offset, outcome) {
                case (2, .parsed) where mutated[2] <= 16,
                    (2, .failed(.badHardwareAddressLength)) where mutated[2] > 16:
                    continue
                case (236..<240, .failed(.badMagicCookie(offset: 236))):
                    continue
                case (0..<236, .parsed(let message)) where offset != 2:
                    // Header octets are carried verbatim: the mutation must come back out as is.
                    if Array(message.encoded().readableBytesView) != mutated {
                        unexpected.append("\(offset) \(name): header not reproduced")
                    }
                    parsedCount += 1
                case (240..., .parsed(let message)):
                    if !Self.exercise(message) { unexpected.append("\(offset) \(name): unstable re-encode") }
                    parsedCount += 1
                case (240..., .failed(.truncatedOption)), (240..., .failed(.badOverload)):
                    continue
                default:
                    unexpected.append("\(offset) \(name): \(outcome)")
                }
            }
        }
        #expect(unexpected.isEmpty, "\(fixture.rawValue): \(unexpected.prefix(5))")
        #expect(parsedCount > bytes.count)
    }
}
