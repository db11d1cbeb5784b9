import Foundation
import NBD
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import VBootServer

/// The bytes all NBD connections hold together stay bounded: past the limit nobody's reads are
/// handled until there is room, and a client that holds its replies untaken while memory is
/// short is closed. Commands that would make vboot hold data it cannot use close the connection.
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

    @Test func pastTheLimitNoReadIsHandledUntilThereIsRoom() async throws {
        let memory = NBDMemory(limit: 4 << 20)
        let rig = try await NBDServiceTests.rig(memory: memory)
        let port = rig.port
        let hoarder = try await NBDConnectionTests.offPool { try Self.hoarder(port: port) }
        try await Self.waitUntilShort(memory)
        let other = try await NBDConnectionTests.offPool { () -> NBDTestClient in
            let other = try NBDTestClient(port: port, timeout: 2)
            #expect(try other.go("lab").last == .ack)
            other.request(.read, handle: 1, offset: 0, length: 4096)
            return other
        }
        let whileShort = try await NBDConnectionTests.offPool { try other.reply(reading: 4096)?.0 }
        #expect(whileShort == nil, "a read was answered while NBD memory was short")
        // The hoarder goes: its replies are given back, and the other's read is answered.
        hoarder.drop()
        let after = try await NBDConnectionTests.offPool { () -> NBDErrno? in
            other.waitAtMost(10)
            return try other.reply(reading: 4096)?.0
        }
        #expect(after == .ok)
        await rig.stop()
        for _ in 0..<100 where memory.used != 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(memory.used == 0, "\(memory.used) bytes still counted after every connection ended")
    }

    @Test func aClientHoldingItsRepliesWhileMemoryIsShortIsClosed() async throws {
        let memory = NBDMemory(limit: 4 << 20)
        let timeouts = NBDTimeouts(handshake: .seconds(30), stalled: .seconds(1))
        let rig = try await NBDServiceTests.rig(memory: memory, timeouts: timeouts)
        let port = rig.port
        let hoarder = try await NBDConnectionTests.offPool { try Self.hoarder(port: port) }
        try await Self.waitUntilShort(memory)
        // The other's read waits for room, which the hoarder's closing makes.
        let answer = try await NBDConnectionTests.offPool { () -> NBDErrno? in
            let other = try NBDTestClient(port: port, timeout: 10)
            #expect(try other.go("lab").last == .ack)
            other.request(.read, handle: 1, offset: 0, length: 4096)
            return try other.reply(reading: 4096)?.0
        }
        #expect(answer == .ok, "the other client's read was not answered")
        #expect(rig.counters[.nbdConnectionsDropped] >= 1)
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
