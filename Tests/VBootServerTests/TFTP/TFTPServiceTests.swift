import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TFTP
import Testing
import VBootServer

/// vboot's TFTP service on loopback, driven by a hand-played client that can lose, repeat and
/// reorder packets.
@Suite("TFTP service", .serialized)
struct TFTPServiceTests {
    struct Download {
        var bytes: [UInt8] = []
        var dataPackets = 0
        var duplicateData = 0
        var error: TFTPError?
    }

    /// Downloads `name`; `drop(n)` discards the n-th DATA datagram received, `repeatACK` sends
    /// every ACK twice, `hold(n)` delivers the n-th datagram after the next one (reorder).
    static func download(
        _ name: String, port: Int, options: [TFTPOption] = [], drop: (Int) -> Bool = { _ in false },
        repeatACK: Bool = false, hold: (Int) -> Bool = { _ in false }
    ) throws -> Download {
        let client = try UDPClient()
        client.send(
            TFTPPacket.readRequest(TFTPRequest(filename: name, options: options)).encoded().bytes, to: UInt16(port))
        var result = Download()
        var windowSize = 1
        var blockSize = 512
        var expected = 1
        var transferPort: UInt16 = 0
        var received = 0
        var held: [UInt8]?
        var seen = Set<Int>()
        var absolute = 0
        func ack(_ block: Int) {
            let packet = TFTPPacket.acknowledgement(block: UInt16(truncatingIfNeeded: block)).encoded().bytes
            client.send(packet, to: transferPort)
            if repeatACK { client.send(packet, to: transferPort) }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard var datagram = client.receive(timeout: .seconds(5)) else { break }
            transferPort = datagram.port
            if let pending = held {
                held = nil
                // Deliver the newer packet first, then the held one.
                let newer = datagram.bytes
                datagram.bytes = pending
                _ = handle(newer)
            }
            received += 1
            if hold(received), held == nil {
                held = datagram.bytes
                continue
            }
            if drop(received) { continue }
            if handle(datagram.bytes) { return result }
        }
        return result

        /// true when done.
        func handle(_ bytes: [UInt8]) -> Bool {
            guard let packet = try? TFTPPacket(parsing: ByteBuffer(bytes: bytes)) else { return false }
            switch packet {
            case .optionAcknowledgement(let acknowledged):
                for option in acknowledged {
                    if option.name == "windowsize" { windowSize = Int(option.value)! }
                    if option.name == "blksize" { blockSize = Int(option.value)! }
                }
                ack(0)
            case .data(let wire, let data):
                result.dataPackets += 1
                // Map the 16-bit block onto the absolute one we expect next.
                let distance = Int(wire &- UInt16(truncatingIfNeeded: expected))
                absolute = expected + (distance > 32768 ? distance - 65536 : distance)
                if !seen.insert(absolute).inserted { result.duplicateData += 1 }
                if absolute == expected {
                    result.bytes += data.bytes
                    expected += 1
                    if data.readableBytes < blockSize { ack(absolute); return true }
                    if (absolute % windowSize) == 0 || windowSize == 1 { ack(absolute) }
                } else if absolute > expected {
                    ack(expected - 1)  // RFC 7440 §4: a gap; say where we are.
                }
            case .error(let error):
                result.error = error
                return true
            default:
                break
            }
            return false
        }
    }

    @Test func lockstepDownloadIsExact() async throws {
        let server = try TestServer()
        let content = randomBytes(100_000, seed: 1)
        try server.write(content, to: "assets/kernel")
        try await server.start(expecting: ["tftp"])
        defer { Task { await server.stop() } }
        let download = try Self.download("kernel", port: server.port("tftp"))
        #expect(download.error == nil)
        #expect(download.bytes == content)
        #expect(download.dataPackets == 100_000 / 512 + 1)
        await server.stop()
    }

    /// `count` downloads of "kernel" at once, each on a thread of its own (a blocked cooperative
    /// thread would starve the server under test).
    static func downloadsAtOnce(
        _ count: Int, port: Int, options: @escaping @Sendable (Int) -> [TFTPOption]
    ) async -> [Result<Download, any Error>] {
        await withCheckedContinuation { continuation in
            let results = NIOLockedValueBox<[Int: Result<Download, any Error>]>([:])
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                Thread {
                    let result = Result { try download("kernel", port: port, options: options(index)) }
                    results.withLockedValue { $0[index] = result }
                    group.leave()
                }.start()
            }
            group.notify(queue: .global()) {
                continuation.resume(returning: results.withLockedValue { $0.sorted { $0.key < $1.key }.map(\.value) })
            }
        }
    }

    /// Transfers at once on three engines (threads): each arrives whole, windowed and lockstep,
    /// read from disk, and every place is given back. (Which engine takes each is
    /// `TFTPEngines.leastLoaded`, tested as a value.)
    @Test func concurrentTransfersOnSeveralEnginesArriveIntact() async throws {
        let server = try TestServer { configuration, _ in
            configuration.tftpThreads = 3
            configuration.tftpResources.sharedFileCopies = 0
        }
        let content = randomBytes(300_000, seed: 7)
        try server.write(content, to: "assets/kernel")
        try await server.start(expecting: ["tftp"])
        let results = await Self.downloadsAtOnce(8, port: server.port("tftp")) {
            $0.isMultiple(of: 2) ? [] : [TFTPOption("blksize", "1400"), TFTPOption("windowsize", "8")]
        }
        #expect(results.count == 8)
        #expect(results.allSatisfy { (try? $0.get()).map { $0.error == nil && $0.bytes == content } == true })
        // The last ACK reaches the server after the client is done.
        #expect(
            await TFTPLimitTests.eventually {
                TFTPLimitTests.metric("tftp_transfers_completed_total", server) == 8
                    && TFTPLimitTests.metric("tftp_transfers_active", server) == 0
            })
        await server.stop()
    }

    /// A path that doubles every ACK: a repeated ACK may resend the next block once (it can look
    /// like the client's own retransmission), but the ACKs of that doubled block resend nothing,
    /// so no more than every other block goes out twice. The Sorcerer's Apprentice sends every
    /// block twice from then on.
    @Test func doubledACKsNeverDoubleEveryBlock() async throws {
        let server = try TestServer()
        let content = randomBytes(40_000, seed: 2)
        try server.write(content, to: "assets/file")
        try await server.start(expecting: ["tftp"])
        let download = try Self.download("file", port: server.port("tftp"), repeatACK: true)
        let blocks = 40_000 / 512 + 1
        #expect(download.bytes == content)
        // Here 80-91 DATA for 79 blocks; 156 when a doubled ACK was taken for a loss.
        #expect(
            download.dataPackets <= blocks + blocks / 2 + 1,
            "Sorcerer's Apprentice: \(download.duplicateData) blocks sent twice")
        await server.stop()
    }

    /// From disk (a fresh file, through 64 KiB read-ahead chunks that windows straddle) and
    /// from memory (a settled file in the hot-file cache).
    @Test(arguments: [1, 4, 16], [false, true])
    func lossyWindowedDownloadArrivesIntact(windowSize: Int, settled: Bool) async throws {
        let server = try TestServer()
        let content = randomBytes(300_000, seed: UInt64(windowSize))
        try server.write(content, to: "assets/initrd", settled: settled)
        try await server.start(expecting: ["tftp"])
        let options = [
            TFTPOption("blksize", "1024"), TFTPOption("windowsize", String(windowSize)), TFTPOption("timeout", "1"),
            TFTPOption("tsize", "0"),
        ]
        let losses: Set<Int> = [3, 41]
        let download = try Self.download(
            "initrd", port: server.port("tftp"), options: options,
            drop: { losses.contains($0) }, repeatACK: windowSize == 4, hold: { $0 % 37 == 0 })
        #expect(download.error == nil)
        #expect(download.bytes.count == content.count)
        #expect(download.bytes == content)
        await server.stop()
    }

    @Test func blockNumbersRollOverPast65535() async throws {
        let server = try TestServer()
        let content = randomBytes(70_000 * 8 + 3, seed: 9)
        try server.write(content, to: "assets/big")
        try await server.start(expecting: ["tftp"])
        let download = try Self.download(
            "big", port: server.port("tftp"),
            options: [TFTPOption("blksize", "8"), TFTPOption("windowsize", "64")])
        #expect(download.bytes == content)
        await server.stop()
    }

    @Test(arguments: [
        ("../etc/passwd", TFTPErrorCode.accessViolation),
        // A leading `/` names the TFTP root (GRUB asks `/debian-12/linux`): not the host's /etc.
        ("/etc/passwd", .fileNotFound),
        ("/../etc/passwd", .accessViolation),
        ("a\\b", .accessViolation),
        ("escape", .accessViolation),
        ("missing.bin", .fileNotFound),
        ("sub", .fileNotFound),
    ])
    func refusals(name: String, code: TFTPErrorCode) async throws {
        let server = try TestServer()
        try server.write([1, 2, 3], to: "assets/sub/inner")
        try FileManager.default.createSymbolicLink(
            atPath: server.root.appendingPathComponent("assets/escape").path, withDestinationPath: "/etc/hostname")
        try await server.start(expecting: ["tftp"])
        let download = try Self.download(name, port: server.port("tftp"))
        #expect(download.error?.code == code)
        #expect(download.bytes.isEmpty)
        await server.stop()
    }

    @Test(arguments: ["/sub/inner", "//sub/inner", "sub/inner"])
    func pathsFromTheRoot(name: String) async throws {
        let server = try TestServer()
        try server.write([1, 2, 3], to: "assets/sub/inner")
        try await server.start(expecting: ["tftp"])
        #expect(try Self.download(name, port: server.port("tftp")).bytes == [1, 2, 3])
        await server.stop()
    }

    @Test func writeRequestsAreRefused() async throws {
        let server = try TestServer()
        try await server.start(expecting: ["tftp"])
        let client = try UDPClient()
        client.send(
            TFTPPacket.writeRequest(TFTPRequest(filename: "upload")).encoded().bytes, to: UInt16(server.port("tftp")))
        let reply = try #require(client.receive())
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: reply.bytes))
                == .error(TFTPError(.accessViolation, "vboot serves files read-only")))
        await server.stop()
    }

    @Test func malformedPacketsAreCountedAndServiceGoesOn() async throws {
        let server = try TestServer()
        try server.write([7, 7, 7], to: "assets/ok")
        try await server.start(expecting: ["tftp"])
        let client = try UDPClient()
        for garbage in [[0x00], [0x00, 0x09, 0x41], [0x00, 0x01, 0x41, 0x42]] as [[UInt8]] {
            client.send(garbage, to: UInt16(server.port("tftp")))
        }
        #expect(client.receive(timeout: .milliseconds(300)) == nil, "malformed requests get no answer")
        #expect(server.server.counters[.tftpPacketsMalformed] == 3)
        #expect(try Self.download("ok", port: server.port("tftp")).bytes == [7, 7, 7])
        await server.stop()
    }

    @Test func ipxeBinariesByBareName() async throws {
        let server = try TestServer()
        let binary = randomBytes(5000, seed: 4)
        try server.write(binary, to: "ipxe/ipxe.efi")
        try await server.start(expecting: ["tftp"])
        #expect(try Self.download("ipxe.efi", port: server.port("tftp")).bytes == binary)
        await server.stop()
    }

    /// An iPXE without an embedded script asks for `autoexec.ipxe` beside itself (`/` dropped) and
    /// at the root: both get vboot's embedded script (`ipxe/embed.ipxe`) pointing at vboot's HTTP
    /// listener on the address the request came to.
    @Test(arguments: ["autoexec.ipxe", "/autoexec.ipxe"])
    func autoexecIsTheEmbeddedScriptForThisServer(name: String) async throws {
        let server = try TestServer { configuration, _ in configuration.httpPort = 8080 }
        try await server.start(expecting: ["tftp"])
        let text = String(decoding: try Self.download(name, port: server.port("tftp")).bytes, as: UTF8.self)
        let template = try String(contentsOfFile: "ipxe/embed.ipxe", encoding: .utf8)
        #expect(text == template.replacingOccurrences(of: "{{server}}", with: "http://127.0.0.1:8080"))
        #expect(text.contains("set vboot-server http://127.0.0.1:8080\n"))
        await server.stop()
    }

    /// A generated transfer gives its place back like a file's: one place per address, three
    /// downloads in a row.
    @Test func autoexecTransfersGiveTheirPlaceBack() async throws {
        let server = try TestServer { configuration, _ in
            configuration.tftpResources.maximumTransfersPerAddress = 1
        }
        try await server.start(expecting: ["tftp"])
        for round in 1...3 {
            let download = try Self.download("autoexec.ipxe", port: server.port("tftp"))
            #expect(download.error == nil && !download.bytes.isEmpty, "round \(round)")
            #expect(
                await TFTPLimitTests.eventually {
                    TFTPLimitTests.metric("tftp_transfers_completed_total", server) == round
                        && TFTPLimitTests.metric("tftp_transfers_active", server) == 0
                })
        }
        await server.stop()
    }

    @Test func strangerGetsUnknownTIDAndTransferContinues() async throws {
        let server = try TestServer()
        let content = randomBytes(2000, seed: 5)
        try server.write(content, to: "assets/f")
        try await server.start(expecting: ["tftp"])
        let client = try UDPClient()
        client.send(TFTPPacket.readRequest(TFTPRequest(filename: "f")).encoded().bytes, to: UInt16(server.port("tftp")))
        let first = try #require(client.receive())
        let stranger = try UDPClient()
        stranger.send(TFTPPacket.acknowledgement(block: 1).encoded().bytes, to: first.port)
        let answer = try #require(stranger.receive())
        #expect(
            try TFTPPacket(parsing: ByteBuffer(bytes: answer.bytes))
                == .error(TFTPError(.unknownTransferID, "unknown transfer ID")))
        client.send(TFTPPacket.acknowledgement(block: 1).encoded().bytes, to: first.port)
        let second = try #require(client.receive())
        guard case .data(let block, _) = try TFTPPacket(parsing: ByteBuffer(bytes: second.bytes)) else {
            Issue.record("expected DATA")
            return
        }
        #expect(block == 2)
        await server.stop()
    }

    /// At the limit a request gets no answer (an ERROR makes firmware give up on the boot entry)
    /// and is counted; the client's retransmitted RRQ is served once a place is free.
    @Test func transferLimitLeavesTheRequestForTheRetry() async throws {
        let server = try TestServer { configuration, _ in configuration.maximumTFTPTransfers = 1 }
        let content = randomBytes(700, seed: 6)
        try server.write(content, to: "assets/f")
        try await server.start(expecting: ["tftp"])
        let request = TFTPPacket.readRequest(TFTPRequest(filename: "f")).encoded().bytes
        let first = try UDPClient()
        first.send(request, to: UInt16(server.port("tftp")))
        let firstBlock = try #require(first.receive())
        let second = try UDPClient()
        second.send(request, to: UInt16(server.port("tftp")))
        #expect(second.receive(timeout: .milliseconds(500)) == nil)
        #expect(TFTPLimitTests.metric("tftp_transfer_limit_hits_total", server) == 1)
        // The first transfer ends (two blocks: 512 + 188 bytes), freeing the place.
        first.send(TFTPPacket.acknowledgement(block: 1).encoded().bytes, to: firstBlock.port)
        let last = try #require(first.receive())
        first.send(TFTPPacket.acknowledgement(block: 2).encoded().bytes, to: last.port)
        #expect(
            await TFTPLimitTests.eventually { TFTPLimitTests.metric("tftp_transfers_completed_total", server) == 1 })
        second.send(request, to: UInt16(server.port("tftp")))
        let retried = try #require(second.receive())
        guard case .data(1, let data) = try TFTPPacket(parsing: ByteBuffer(bytes: retried.bytes)) else {
            Issue.record("expected DATA 1 for the retried request")
            return
        }
        #expect(data.bytes == Array(content[0..<512]))
        await server.stop()
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}

extension TFTPServiceTests {
    /// A duplicated RRQ (the client's retry, or the network) must not start a second transfer.
    @Test func repeatedRequestFromTheSamePortIsOneTransfer() async throws {
        let server = try TestServer()
        try server.write(randomBytes(3000, seed: 8), to: "assets/f")
        try await server.start(expecting: ["tftp"])
        let client = try UDPClient()
        let request = TFTPPacket.readRequest(TFTPRequest(filename: "f")).encoded().bytes
        client.send(request, to: UInt16(server.port("tftp")))
        client.send(request, to: UInt16(server.port("tftp")))
        let first = try #require(client.receive())
        #expect(client.receive(timeout: .milliseconds(300)) == nil, "no DATA 1 from a second transfer")
        #expect(server.server.counters[.tftpDuplicateRequests] == 1)
        // The transfer itself goes on.
        client.send(TFTPPacket.acknowledgement(block: 1).encoded().bytes, to: first.port)
        #expect(client.receive() != nil)
        await server.stop()
    }
}
