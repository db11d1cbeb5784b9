import BootPolicy
import Foundation
import NBD
import NIOCore
import Testing

@testable import VBootServer

/// What a plain NBD client never shows: replies left unread, connections dropped without a
/// goodbye, a layer taken over, a host that opens too many connections, a device that cannot open.
@Suite("NBD connections", .serialized)
struct NBDConnectionTests {
    static let scratchMAC = "lab/52-54-00-d1-5c-02"
    static let persistentMAC = "lab/52-54-00-d1-5c-01"

    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await HTTPServiceTests.offThePool(body)
    }

    @Test func aClientThatDoesNotReadItsRepliesStopsBeingServed() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        // 200 reads of 1 MiB (the base is 1 MiB), not one reply read.
        let client = try await Self.offPool { () -> NBDTestClient in
            let client = try NBDTestClient(port: port)
            #expect(try client.go("lab").last == .ack)
            for handle in 0..<200 { client.request(.read, handle: UInt64(handle), offset: 0, length: 1 << 20) }
            return client
        }
        try await Task.sleep(for: .seconds(2))
        let read = rig.counters[.nbdBytesRead]
        // The reply limit and both sockets' buffers: far below the 200 MiB asked for.
        #expect(read >= 1 << 20 && read < 48 << 20, "read \(read) bytes for a client that reads nothing")
        _ = client
        await rig.stop()
    }

    /// Requests keep coming while the replies are not read: once the replies in flight and the
    /// unhandled requests reach their limits, vboot stops reading and the client's sends stall.
    @Test func aClientThatSendsRequestsAndReadsNothingIsNotBufferedWithoutLimit() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let total = 400 << 20
        let sent = try await Self.offPool { () -> Int in
            let client = try NBDTestClient(port: port)
            #expect(try client.go("lab").last == .ack)
            return client.flood(reads: 4096, total: total, seconds: 4)
        }
        // The backlog limit, the socket buffers: nowhere near all of it.
        #expect(
            sent < NBDConnectionHandler.backlogLimit + (16 << 20),
            "vboot took \(sent) bytes of requests it could not answer")
        await rig.stop()
    }

    @Test func aScratchLayerOutlivesAnUncleanDropOfTheSameBootButNotANewBoot() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let pattern = [UInt8](repeating: 0x5a, count: 4096)
        let written = try await Self.offPool { () -> NBDErrno? in
            let client = try NBDTestClient(port: port)
            _ = try client.go(Self.scratchMAC)
            client.request(.write, handle: 1, offset: 8192, length: 4096, data: pattern)
            return try client.reply()?.0
            // Closed here without NBD_CMD_DISC: the machine's connection broke.
        }
        #expect(written == .ok)
        try await Task.sleep(for: .milliseconds(300))
        let again = try await Self.offPool { () -> [UInt8]? in
            let client = try NBDTestClient(port: port)
            _ = try client.go(Self.scratchMAC)
            client.request(.read, handle: 2, offset: 8192, length: 4096)
            return try client.reply(reading: 4096)?.1.map { Array($0.readableBytesView) }
        }
        let kept = again == pattern
        #expect(kept, "the same boot's reconnect got an empty layer under its file system")
        // The machine boots again: its scratch layer starts afresh.
        rig.boot.withLockedValue { $0 = 2 }
        let fresh = try await Self.offPool { () -> [UInt8]? in
            let client = try NBDTestClient(port: port)
            _ = try client.go(Self.scratchMAC)
            client.request(.read, handle: 3, offset: 8192, length: 4096)
            return try client.reply(reading: 4096)?.1.map { Array($0.readableBytesView) }
        }
        let clean = fresh == Array(NBDServiceTests.base[8192..<12288])
        #expect(clean, "a new boot kept the last boot's scratch writes")
        // The first boot's token again, while the new boot's layer waits for its machine: a
        // stale connection of an ended boot, refused; the running boot's layer stays.
        rig.boot.withLockedValue { $0 = 1 }
        let stale = try await Self.offPool { try NBDTestClient(port: port).go(Self.scratchMAC) }
        #expect(stale.last?.isError == true, "an earlier boot's token took the layer: \(stale)")
        #expect(await rig.exports?.layers.count == 1)
        await rig.stop()
    }

    /// A boot's scratch layer that has gone (vboot restarted, or the machine stayed away past the
    /// grace) is never replaced by an empty one under the machine's mounted root.
    @Test func aBootWhoseScratchLayerEndedIsRefusedNotGivenAnEmptyOne() async throws {
        let restarted = try await NBDServiceTests.rig(startedAt: 5)
        let port = restarted.port
        restarted.boot.withLockedValue { $0 = 4 }
        let before = try await Self.offPool { try NBDTestClient(port: port).go(Self.scratchMAC) }
        #expect(before.last?.isError == true, "a boot from before the restart got an empty layer: \(before)")
        restarted.boot.withLockedValue { $0 = 5 }
        let after = try await Self.offPool { try NBDTestClient(port: port).go(Self.scratchMAC) }
        #expect(after.last == .ack, "a boot since the restart was refused: \(after)")
        await restarted.stop()
        let rig = try await NBDServiceTests.rig(scratchGrace: .milliseconds(200))
        let graced = rig.port
        _ = try await Self.offPool { _ = try NBDTestClient(port: graced).go(Self.scratchMAC) }
        try await Task.sleep(for: .milliseconds(700))
        let late = try await Self.offPool { try NBDTestClient(port: graced).go(Self.scratchMAC) }
        #expect(late.last?.isError == true, "a reconnect after the grace got an empty layer: \(late)")
        await rig.stop()
    }

    @Test func anIdleScratchLayerGoesAfterItsGrace() async throws {
        let rig = try await NBDServiceTests.rig(scratchGrace: .milliseconds(200))
        let port = rig.port
        _ = try await Self.offPool {
            let client = try NBDTestClient(port: port)
            _ = try client.go(Self.scratchMAC)
            client.request(.write, handle: 1, offset: 0, length: 4096, data: [UInt8](repeating: 1, count: 4096))
            _ = try client.reply()
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await rig.exports?.layers.count == 1)
        try await Task.sleep(for: .milliseconds(600))
        #expect(await rig.exports?.layers.count == 0, "a dropped machine's scratch layer was kept past its grace")
        await rig.stop()
    }

    @Test func aNewConnectionTakesTheLayerOverAndTheOldOneIsClosed() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let (firstClosed, secondServed) = try await Self.offPool { () -> (Bool, NBDErrno?) in
            let first = try NBDTestClient(port: port)
            _ = try first.go(Self.persistentMAC)
            first.request(.write, handle: 1, offset: 0, length: 4096, data: [UInt8](repeating: 7, count: 4096))
            _ = try first.reply()
            let second = try NBDTestClient(port: port)
            _ = try second.go(Self.persistentMAC)
            second.request(.read, handle: 2, offset: 0, length: 4096)
            let served = try second.reply(reading: 4096)
            let sameData = served?.1.map { Array($0.readableBytesView) } == [UInt8](repeating: 7, count: 4096)
            return (first.isClosedByServer, sameData ? served?.0 : nil)
        }
        #expect(firstClosed, "the earlier connection kept the layer")
        #expect(secondServed == .ok, "the new connection did not see what the old one wrote")
        await rig.stop()
    }

    @Test func aLayerThatCannotOpenIsRefusedBeforeGoIsAnswered() async throws {
        let rig = try await NBDServiceTests.rig()
        // A map made over another base: the layer refuses to open.
        let directory = rig.root + "/data/overlays/lab"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try BlockOverlay.encodeMap([0, 0, 0, 0], digest: String(repeating: "0", count: 64))
            .write(to: URL(fileURLWithPath: directory + "/52-54-00-d1-5c-01.map"))
        let port = rig.port
        let types = try await Self.offPool {
            let client = try NBDTestClient(port: port)
            return try client.go(Self.persistentMAC)
        }
        #expect(types == [.errorPolicy], "GO answered \(types.map(\.rawValue)) for a layer that cannot open")
        await rig.stop()
    }

    @Test func oneHostIsRefusedPastItsShareOfConnections() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let greeted = try await Self.offPool { () -> [Bool] in
            let clients = try (0...NBDAdmission.perAddress).map { _ in try NBDTestClient(port: port, timeout: 2) }
            return clients.map { $0.receive(NBDGreeting.size) != nil }
        }
        // Which one is refused depends on which event loop admits first: exactly one is.
        #expect(greeted.filter { $0 }.count == NBDAdmission.perAddress && greeted.count == NBDAdmission.perAddress + 1)
        #expect(rig.counters[.nbdConnectionsDropped] >= 1)
        await rig.stop()
    }

    @Test func unknownCommandFlagsAndReadsPastTheEndAreRefusedAndTheConnectionGoesOn() async throws {
        let rig = try await NBDServiceTests.rig()
        let port = rig.port
        let answers = try await Self.offPool { () -> [NBDErrno?] in
            let client = try NBDTestClient(port: port)
            _ = try client.go("lab")
            var out = ByteBuffer()
            NBDRequest(flags: NBDCommandFlags(rawValue: 1 << 9), command: .read, handle: 1, offset: 0, length: 512)
                .encode(into: &out)
            client.send(out)
            let flagged = try client.reply()?.0
            client.request(.read, handle: 2, offset: 1 << 20, length: 512)
            let past = try client.reply()?.0
            client.request(.read, handle: 3, offset: 0, length: 512)
            let fine = try client.reply(reading: 512)?.0
            return [flagged, past, fine]
        }
        #expect(answers == [.invalid, .invalid, .ok])
        await rig.stop()
    }
}
