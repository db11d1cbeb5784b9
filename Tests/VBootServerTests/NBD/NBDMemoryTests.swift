import Foundation
import NBD
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import VBootServer

/// The bytes all NBD connections hold together stay bounded: past the limit no connection with
/// a reply in flight has a read answered until there is room, and a client that holds its
/// replies untaken while memory is short is closed. Commands that would make vboot hold data it
/// cannot use close the connection.
@Suite("NBD memory", .serialized)
struct NBDMemoryTests {
    static let read = 1 << 20

    /// A client that asks for 64 MiB of reads and takes none of them: its replies fill vboot's
    /// NBD memory (the limit is 4 MiB here) once both sockets' buffers are full.
    static func hoarder(port: Int) throws -> NBDTestClient {
        let client = try NBDTestClient(port: port)
        #expect(try client.go("lab").last == .ack)
        for handle in 0..<64 { client.request(.read, handle: UInt64(handle), offset: 0, length: UInt32(read)) }
        return client
    }

    static func waitUntilShort(_ memory: NBDMemory) async throws {
        for _ in 0..<100 where !memory.isShort { try await Task.sleep(for: .milliseconds(50)) }
        #expect(memory.isShort, "the hoarder never filled \(memory.limit) bytes (\(memory.used) held)")
    }

    /// Three hoarders: each alone would hold its 8 MiB of replies (the per-connection limit),
    /// 24 MiB in all; together they stay within the budget and a read each.
    @Test func pastTheLimitNoConnectionWithAReplyInFlightHasAReadAnswered() async throws {
        let memory = NBDMemory(limit: 4 << 20)
        let rig = try await NBDServiceTests.rig(memory: memory)
        let port = rig.port
        let hoarders = try await NBDConnectionTests.offPool { try (0..<3).map { _ in try Self.hoarder(port: port) } }
        try await Self.waitUntilShort(memory)
        var most = 0
        for _ in 0..<40 {
            most = max(most, memory.used)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(most <= memory.limit + 3 * (Self.read + 4096), "the hoarders held \(most) bytes")
        // Another client's read is answered once they go, and every byte is given back.
        let other = try await NBDConnectionTests.offPool { () -> NBDTestClient in
            let other = try NBDTestClient(port: port, timeout: 10)
            #expect(try other.go("lab").last == .ack)
            other.request(.read, handle: 1, offset: 0, length: 4096)
            return other
        }
        for hoarder in hoarders { hoarder.drop() }
        let after = try await NBDConnectionTests.offPool { try other.reply(reading: 4096)?.0 }
        #expect(after == .ok)
        await rig.stop()
        for _ in 0..<100 where memory.used != 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(memory.used == 0, "\(memory.used) bytes still counted after every connection ended")
    }

    /// While the hoarder still holds the budget, a connection with no reply in flight has its
    /// read answered: nobody's boot waits on another client's untaken replies.
    @Test func aConnectionWithNothingInFlightHasItsReadAnsweredWhileMemoryIsShort() async throws {
        let memory = NBDMemory(limit: 4 << 20)
        let rig = try await NBDServiceTests.rig(memory: memory)
        let port = rig.port
        let hoarder = try await NBDConnectionTests.offPool { try Self.hoarder(port: port) }
        try await Self.waitUntilShort(memory)
        let answer = try await NBDConnectionTests.offPool { () -> NBDErrno? in
            let other = try NBDTestClient(port: port, timeout: 5)
            var read = ByteBuffer()
            NBDRequest(command: .read, handle: 1, offset: 0, length: 4096).encode(into: &read)
            #expect(try other.go("lab", then: read).last == .ack)
            return try other.reply(reading: 4096)?.0
        }
        #expect(answer == .ok, "a read with nothing in flight waited on the hoarder")
        #expect(memory.isShort, "the hoarder let go before the read was answered: the test shows nothing")
        _ = hoarder
        await rig.stop()
    }

    @Test func aClientHoldingItsRepliesWhileMemoryIsShortIsClosed() async throws {
        let memory = NBDMemory(limit: 4 << 20)
        let timeouts = NBDTimeouts(handshake: .seconds(30), stalled: .seconds(1))
        let rig = try await NBDServiceTests.rig(memory: memory, timeouts: timeouts)
        let port = rig.port
        let hoarder = try await NBDConnectionTests.offPool { try Self.hoarder(port: port) }
        try await Self.waitUntilShort(memory)
        // Left alone (its replies untaken for the 1 s of `stalled`), then closed by vboot.
        for _ in 0..<100 where rig.counters[.nbdConnectionsDropped] == 0 {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rig.counters[.nbdConnectionsDropped] == 1, "the hoarder was not closed within 10 s")
        // Whatever both sockets' buffers held arrives first, then the end (a reset: vboot had
        // not read all the hoarder's requests).
        let closed = try await NBDConnectionTests.offPool { () -> Bool in
            var sink = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = sink.withUnsafeMutableBytes { recv(hoarder.descriptor, $0.baseAddress!, 1 << 20, 0) }
                if got <= 0 { return got == 0 || errno == ECONNRESET }
            }
        }
        #expect(closed, "the hoarder was not closed by vboot")
        await rig.stop()
    }

    @Test func theBudgetWakesItsWaitersOnceThereIsRoomAndForgetsAConnectionThatEnded() {
        let memory = NBDMemory(limit: 100)
        let woken = NIOLockedValueBox<[Int]>([])
        memory.wait(ObjectIdentifier(memory)) { woken.withLockedValue { $0.append(0) } }
        #expect(woken.withLockedValue { $0 } == [0], "not woken at once with room to spare")
        memory.take(150)
        #expect(memory.isShort)
        let (one, two) = (NBDMemory(), NBDMemory())
        memory.wait(ObjectIdentifier(one)) { woken.withLockedValue { $0.append(1) } }
        memory.wait(ObjectIdentifier(two)) { woken.withLockedValue { $0.append(2) } }
        memory.forget(ObjectIdentifier(two))
        memory.give(40)
        #expect(memory.isShort && woken.withLockedValue { $0 } == [0], "woken while still over the limit")
        memory.give(10)
        #expect(!memory.isShort && woken.withLockedValue { $0 } == [0, 1], "the waiter not woken at the limit")
        memory.give(100)
        #expect(memory.used == 0 && woken.withLockedValue { $0 } == [0, 1], "woken twice, or the forgotten one woken")
    }

    @Test func aWriteToTheReadOnlyBaseAndAnUndefinedCommandCloseTheConnection() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let closed = try await NBDConnectionTests.offPool { () -> [Bool] in
            let writer = try NBDTestClient(port: port)
            #expect(try writer.go("lab").last == .ack)
            writer.request(.write, handle: 1, offset: 0, length: 4096, data: [UInt8](repeating: 1, count: 4096))
            let undefined = try NBDTestClient(port: port)
            #expect(try undefined.go("lab").last == .ack)
            undefined.request(NBDCommand(rawValue: 9), handle: 1, offset: 0, length: 4096)
            return [writer.isClosedByServer, undefined.isClosedByServer]
        }
        #expect(closed == [true, true])
        #expect(rig.counters[.nbdConnectionsDropped] == 2)
        await rig.stop()
    }
}
