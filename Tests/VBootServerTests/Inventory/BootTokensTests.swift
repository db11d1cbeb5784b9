import DHCPv4
import Foundation
import Logging
import Testing

@testable import VBootServer

@Suite("Boot tokens")
struct BootTokensTests {
    static let mac = HardwareAddress("52:54:00:d1:5c:01")!
    static let other = HardwareAddress("52:54:00:d1:5c:02")!

    @Test func aTokenNamesItsMachineAndTimeAndNothingElse() {
        let tokens = BootTokens.ephemeral()
        let token = tokens.token(mac: Self.mac, time: 1_764_960_000_123)
        #expect(token.count == BootTokens.length)
        #expect(tokens.verify(token, mac: Self.mac) == 1_764_960_000_123)
        #expect(tokens.verify(token, mac: Self.other) == nil, "a token opened another machine's layer")
        #expect(BootTokens.ephemeral().verify(token, mac: Self.mac) == nil, "another key accepted the token")
        // Any one digit changed: the time, or the tag.
        for index in [0, 15, 16, 47] {
            var digits = Array(token)
            digits[index] = digits[index] == "0" ? "1" : "0"
            #expect(tokens.verify(String(digits), mac: Self.mac) == nil, "digit \(index) changed and still valid")
        }
        // One spelling per boot: no uppercase, no sign, nothing but 48 lowercase hex digits.
        let upperTime = token.prefix(16).uppercased() + token.dropFirst(16)
        let signed = "+" + token.dropFirst()
        for bad in [
            "", String(token.dropLast()), token + "0", token.uppercased(), upperTime, signed,
            String(repeating: "z", count: 48),
        ] {
            #expect(tokens.verify(bad, mac: Self.mac) == nil, "\(bad) accepted")
        }
    }

    @Test func theKeyIsMadeOnceInTheDataDirectoryAndKept() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-tokens-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let first = try BootTokens.loadOrCreate(dataDirectory: directory, logger: logger)
        let path = directory + "/" + BootTokens.fileName
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let token = first.token(mac: Self.mac, time: 7)
        // A restarted server accepts the tokens of the boots still running.
        let again = try BootTokens.loadOrCreate(dataDirectory: directory, logger: logger)
        #expect(again.verify(token, mac: Self.mac) == 7)
        for broken in ["not a key\n", ""] {
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: StartupError.self) { try BootTokens.loadOrCreate(dataDirectory: directory, logger: logger) }
        }
    }

    /// The clock stepped back: a new boot's token is still newer than the last one issued or
    /// accepted (the layer table refuses earlier boots).
    @Test func bootsMoveForwardWhateverTheClockDoes() {
        let tokens = BootTokens(key: .init(size: .bits256), now: 1000)
        // Even the first, with the clock behind the start: later than the start (the layer
        // table refuses scratch boots from before it).
        let early = BootTokens(key: .init(size: .bits256), now: 1000)
        #expect(early.verify(early.issue(mac: Self.mac, now: 500), mac: Self.mac).map { $0 > early.startedAt } == true)
        let first = tokens.verify(tokens.issue(mac: Self.mac, now: 2000), mac: Self.mac)
        let second = tokens.verify(tokens.issue(mac: Self.mac, now: 1500), mac: Self.mac)
        let third = tokens.verify(tokens.issue(mac: Self.mac, now: 1500), mac: Self.mac)
        #expect(first == 2000 && second == 2001 && third == 2002)
        // A token of a clock that was ahead (a vboot before a restart) counts as issued too.
        _ = tokens.verify(tokens.token(mac: Self.other, time: 9000), mac: Self.other)
        #expect(tokens.verify(tokens.issue(mac: Self.mac, now: 3000), mac: Self.mac) == 9001)
    }
}
