import Foundation
import NIOCore
import TFTP
import Testing

@testable import VBootServer

/// Issue 11 (medium 5): what one host, a silent or slow client, and many windowed transfers can
/// take of the TFTP service, played with real sockets against an in-process server.
@Suite("TFTP limits", .serialized)
struct TFTPLimitTests {
    static let secondHost: UInt32 = 0x7F00_0002

    static func request(_ name: String, from client: UDPClient, to server: TestServer, options: [TFTPOption] = []) {
        client.send(
            TFTPPacket.readRequest(TFTPRequest(filename: name, options: options)).encoded().bytes,
            to: UInt16(server.port("tftp")))
    }

    static func packet(_ datagram: (bytes: [UInt8], port: UInt16)?) -> TFTPPacket? {
        datagram.flatMap { try? TFTPPacket(parsing: ByteBuffer(bytes: $0.bytes)) }
    }

    /// A lockstep download without options, ACK by ACK; the bytes, or the server's ERROR.
    static func lockstep(_ name: String, from client: UDPClient, to server: TestServer) -> ([UInt8], TFTPError?) {
        request(name, from: client, to: server)
        var bytes: [UInt8] = []
        while let datagram = client.receive() {
            switch packet(datagram) {
            case .data(let block, let data):
                bytes += data.bytes
                client.send(TFTPPacket.acknowledgement(block: block).encoded().bytes, to: datagram.port)
                if data.readableBytes < 512 { return (bytes, nil) }
            case .error(let error):
                return (bytes, error)
            default:
                return (bytes, nil)
            }
        }
        return (bytes, nil)
    }

    /// Waits up to a second for `condition` (the engine ends a transfer just after its last packet).
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<100 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// The value of one line of `/metrics`.
    static func metric(_ name: String, _ server: TestServer) -> Int? {
        for line in server.server.counters.prometheusText().split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == "vboot_\(name)" { return Int(fields[1]) }
        }
        return nil
    }

    @Test func oneAddressIsCappedWhileAnotherIsServed() async throws {
        let server = try TestServer { configuration, _ in
            configuration.tftpResources.maximumTransfersPerAddress = 2
        }
        let content = randomBytes(5000, seed: 11)
        try server.write(content, to: "assets/f")
        try await server.start(expecting: ["tftp"])
        // Two transfers from 127.0.0.1, left waiting on their first ACK.
        let held = try (0..<2).map { _ in try UDPClient() }
        for client in held {
            Self.request("f", from: client, to: server)
            #expect(Self.packet(client.receive())?.isData == true)
        }
        let third = try UDPClient()
        Self.request("f", from: third, to: server)
        #expect(Self.packet(third.receive()) == .error(TFTPError(.notDefined, "too many transfers from your address")))
        // Another host is served meanwhile, to the last block.
        let (bytes, error) = Self.lockstep("f", from: try UDPClient(host: Self.secondHost), to: server)
        #expect(error == nil)
        // A Bool: on failure, swift-testing's diff of two big arrays runs for minutes.
        let intact = bytes == content
        #expect(intact)
        #expect(server.server.counters[.tftpPerAddressLimitHits] == 1)
        #expect(Self.metric("tftp_transfers_per_address_limit", server) == 2)
        #expect(await Self.eventually { Self.metric("tftp_transfers_active", server) == 2 })
        await server.stop()
    }

    /// A client that asks for the longest timeout and then says nothing would hold its slot for
    /// 106 s of retransmissions; the lifetime frees it sooner.
    @Test func silentClientsSlotIsFreedAtTheLifetime() async throws {
        let server = try TestServer { configuration, _ in
            configuration.tftpResources.maximumTransfersPerAddress = 1
            configuration.tftpResources.transferLifetime = .seconds(1)
        }
        let content = randomBytes(3000, seed: 12)
        try server.write(content, to: "assets/f")
        try await server.start(expecting: ["tftp"])
        let silent = try UDPClient()
        Self.request("f", from: silent, to: server, options: [TFTPOption("timeout", "10")])
        #expect(Self.packet(silent.receive()) == .optionAcknowledgement([TFTPOption("timeout", "10")]))
        let started = ContinuousClock.now
        // The slot is taken: the same address is refused until the silent transfer ends.
        let refused = Self.lockstep("f", from: try UDPClient(), to: server).1
        #expect(refused?.message == "too many transfers from your address")
        // Its ERROR comes at the lifetime, not after the retransmissions (the OACK resent at 10 s).
        var ended: TFTPPacket?
        while let next = Self.packet(silent.receive(timeout: .seconds(3))) {
            if case .error = next {
                ended = next
                break
            }
        }
        #expect(ended == .error(TFTPError(.notDefined, "transfer not finished within 1 s")))
        #expect(ContinuousClock.now - started < .seconds(3))
        // The engine frees the slot just after sending that ERROR.
        #expect(await Self.eventually { Self.metric("tftp_transfers_active", server) == 0 })
        let (bytes, error) = Self.lockstep("f", from: try UDPClient(), to: server)
        #expect(error == nil)
        let intact = bytes == content
        #expect(intact)
        #expect(server.server.counters[.tftpTransfersExpired] == 1)
        await server.stop()
    }

    /// A client that acknowledges one block at a time, slower than any file should take.
    @Test func slowTransferEndsWithAnErrorAtTheLifetime() async throws {
        let server = try TestServer { configuration, _ in
            configuration.tftpResources.transferLifetime = .seconds(1)
        }
        try server.write(randomBytes(100_000, seed: 13), to: "assets/f")
        try await server.start(expecting: ["tftp"])
        let port = UInt16(server.port("tftp"))
        // On a thread of its own: the 200 ms pauses must not wait for a busy cooperative pool.
        let (blocks, ended) = try await HTTPServiceTests.offThePool { () throws -> (Int, TFTPError?) in
            let client = try UDPClient()
            client.send(TFTPPacket.readRequest(TFTPRequest(filename: "f", options: [])).encoded().bytes, to: port)
            var blocks = 0
            let giveUp = ContinuousClock.now + .seconds(4)
            while ContinuousClock.now < giveUp, let datagram = client.receive(timeout: .seconds(3)) {
                if case .error(let error) = Self.packet(datagram) { return (blocks, error) }
                guard case .data(let block, _) = Self.packet(datagram) else { break }
                blocks += 1
                usleep(200_000)
                client.send(TFTPPacket.acknowledgement(block: block).encoded().bytes, to: datagram.port)
            }
            return (blocks, nil)
        }
        #expect(ended == TFTPError(.notDefined, "transfer not finished within 1 s"))
        #expect((4...7).contains(blocks))
        #expect(server.server.counters[.tftpTransfersExpired] == 1)
        #expect(await Self.eventually { Self.metric("tftp_transfers_active", server) == 0 })
        await server.stop()
    }

    /// Eight transfers that each want a 4 MiB window (blksize 65464 × windowsize 64) of a file
    /// read from disk hold no more than the budget between them.
    @Test func windowedTransfersStayWithinTheReadAheadBudget() async throws {
        let server = try TestServer { configuration, _ in
            configuration.maximumTFTPTransfers = 8
            configuration.tftpResources.readAheadBudget = 1 << 20
            // From disk: a file that settles (a second old) would otherwise come from a shared copy.
            configuration.tftpResources.sharedFileCopies = 0
        }
        try server.write(randomBytes(8 << 20, seed: 14), to: "assets/big")
        try await server.start(expecting: ["tftp"])
        let options = [TFTPOption("blksize", "65464"), TFTPOption("windowsize", "64")]
        let clients = try (0..<8).map { _ in try UDPClient() }
        for client in clients {
            Self.request("big", from: client, to: server, options: options)
            #expect(Self.packet(client.receive()) == .optionAcknowledgement(options))
        }
        #expect(Self.metric("tftp_transfers_active", server) == 8)
        let held = try #require(Self.metric("tftp_read_ahead_bytes", server))
        #expect(held <= 1 << 20)
        #expect(held >= 8 * 65464, "every transfer has at least its block")
        #expect(server.server.counters[.tftpReadAheadReduced] == 8)
        await server.stop()
    }

    /// A window bigger than the transfer's grant still arrives whole, in pieces, through loss.
    @Test func windowLargerThanItsGrantArrivesIntact() async throws {
        let server = try TestServer { configuration, _ in
            configuration.maximumTFTPTransfers = 1
            configuration.tftpResources.readAheadBudget = 5000
            // From disk: a file that settles (a second old) would otherwise come from a shared copy.
            configuration.tftpResources.sharedFileCopies = 0
        }
        let content = randomBytes(300_000, seed: 15)
        try server.write(content, to: "assets/initrd")
        try await server.start(expecting: ["tftp"])
        let download = try TFTPServiceTests.download(
            "initrd", port: server.port("tftp"),
            options: [TFTPOption("blksize", "1024"), TFTPOption("windowsize", "16")], drop: { [5, 77].contains($0) })
        #expect(download.error == nil)
        let intact = download.bytes == content
        #expect(intact)
        #expect(server.server.counters[.tftpReadAheadReduced] == 1)
        #expect(await Self.eventually { Self.metric("tftp_read_ahead_bytes", server) == 0 })
        await server.stop()
    }

    /// Many machines fetching one hot file read it from one shared copy, with no read-ahead.
    @Test func concurrentTransfersOfAHotFileShareOneCopy() async throws {
        let server = try TestServer()
        let content = randomBytes(1 << 20, seed: 16)
        try server.write(content, to: "assets/kernel", settled: true)
        try await server.start(expecting: ["tftp"])
        let options = [TFTPOption("blksize", "1400"), TFTPOption("windowsize", "16")]
        let clients = try (0..<6).map { _ in try UDPClient() }
        for client in clients {
            Self.request("kernel", from: client, to: server, options: options)
            #expect(Self.packet(client.receive()) == .optionAcknowledgement(options))
        }
        #expect(Self.metric("tftp_transfers_active", server) == 6)
        #expect(Self.metric("tftp_shared_copies_bytes", server) == 1 << 20)
        #expect(Self.metric("tftp_read_ahead_bytes", server) == 0)
        let download = try TFTPServiceTests.download("kernel", port: server.port("tftp"), options: options)
        let intact = download.bytes == content
        #expect(intact)
        await server.stop()
    }
}

extension TFTPPacket {
    fileprivate var isData: Bool {
        if case .data = self { return true }
        return false
    }
}
