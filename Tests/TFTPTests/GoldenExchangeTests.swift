import Foundation
import NIOCore
import TFTP
import Testing

/// OVMF's requests and vboot's OACK captured in the e2e rig (see Fixtures/README.md).
@Suite("TFTP golden exchange with OVMF")
struct GoldenExchangeTests {
    static func fixture(_ name: String) throws -> ByteBuffer {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return ByteBuffer(bytes: [UInt8](try Data(contentsOf: url)))
    }

    @Test func sizeProbeNegotiatesTheCapturedOACK() throws {
        let packet = try TFTPPacket(parsing: Self.fixture("ovmf-rrq-tsize-probe.bin"))
        guard case .readRequest(let request) = packet else {
            Issue.record("not an RRQ: \(packet)")
            return
        }
        #expect(request.filename == "ipxe.efi")
        #expect(
            request.options == [TFTPOption("tsize", "0"), TFTPOption("blksize", "1468"), TFTPOption("windowsize", "4")])
        let parameters = TFTPTransferParameters.negotiate(
            request.options, fileSize: 850_528, limits: TFTPServerLimits())
        #expect(parameters.blockSize == 1468)
        #expect(parameters.windowSize == 4)
        let oack = TFTPPacket.optionAcknowledgement(parameters.acknowledgedOptions).encoded()
        #expect(oack == (try Self.fixture("vboot-oack-probe.bin")))
    }

    @Test func probeEndsWithError8AndTheTransferCallsItClientEnded() throws {
        let packet = try TFTPPacket(parsing: Self.fixture("ovmf-error-8-after-probe.bin"))
        #expect(packet == .error(TFTPError(.optionNegotiationFailed, "User aborted the transfer")))
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("tsize", "0"), TFTPOption("blksize", "1468")], fileSize: 850_528,
            limits: TFTPServerLimits())
        var transfer = TFTPReadTransfer(fileSize: 850_528, parameters: parameters)
        let now = ContinuousClock.now
        #expect(transfer.start(now: now) == .sendOptionAcknowledgement(parameters.acknowledgedOptions))
        #expect(transfer.receive(packet, now: now) == .sizeProbeEnded)
        #expect(transfer.highestAcknowledged == 0)
    }

    @Test func realReadHasNoTsize() throws {
        guard case .readRequest(let request) = try TFTPPacket(parsing: Self.fixture("ovmf-rrq.bin")) else {
            Issue.record("not an RRQ")
            return
        }
        #expect(request.options.map(\.name) == ["blksize", "windowsize"])
        #expect(request.mode == "octet")
    }
}
