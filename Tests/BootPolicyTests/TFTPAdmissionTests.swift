import BootPolicy
import TFTP
import Testing

/// Which read requests start a transfer and what the others hear, and what a finished transfer
/// puts on the machine's timeline.
@Suite("TFTP admission and transfer reports")
struct TFTPAdmissionTests {
    @Test func admissionCapsEachAddressAndTheTotal() {
        var admission = TFTPAdmission(limit: 3, perAddressLimit: 2)
        let a1 = TFTPAdmission.Peer(address: 1, port: 1000)
        let a2 = TFTPAdmission.Peer(address: 1, port: 1001)
        let a3 = TFTPAdmission.Peer(address: 1, port: 1002)
        #expect(admission.admit(a1) == .admitted)
        #expect(admission.admit(a1) == .duplicate)
        #expect(admission.admit(a2) == .admitted)
        #expect(admission.admit(a3) == .addressBusy)
        #expect(admission.admit(.init(address: 2, port: 1000)) == .admitted)
        #expect(admission.admit(.init(address: 3, port: 1000)) == .busy)
        admission.release(a1)
        admission.release(a1)
        #expect(admission.admit(a3) == .admitted)
        #expect(admission.count == 3)
    }

    @Test func aBudgetTooSmallForItsSlotsRefuses() {
        var budget = TFTPReadAheadBudget(total: 100_000, slots: 4)
        #expect(budget.grant(wanted: 1 << 20, needed: 65464) == 65464)
        #expect(budget.grant(wanted: 1 << 20, needed: 65464) == nil)
        #expect(budget.grant(wanted: 1 << 20, needed: 512) == 512, "the others keep their reserve")
    }

    /// A full server stays silent (the firmware retries later); a host over its own limit hears
    /// why; a repeat is answered by its running transfer.
    @Test func onlyAHostOverItsOwnLimitHearsAnError() {
        #expect(TFTPAdmission.Decision.admitted.answer == .start)
        #expect(TFTPAdmission.Decision.duplicate.answer == .none)
        #expect(TFTPAdmission.Decision.busy.answer == .none)
        #expect(
            TFTPAdmission.Decision.addressBusy.answer
                == .error(TFTPError(.notDefined, "too many transfers from your address")))
    }

    /// EDK2's probe: OACK, then ERROR 8 before any block.
    @Test func aSizeProbeIsAnAbortedStepNotAFailure() {
        var transfer = Self.transfer(size: 3000, options: [TFTPOption("tsize", "0")])
        let now = ContinuousClock.now
        _ = transfer.start(now: now)
        let action = transfer.receive(.error(TFTPError(.optionNegotiationFailed, "probe")), now: now)
        #expect(action == .sizeProbeEnded)
        let report = TFTPTransferReport(.sizeProbe, transfer: transfer, file: "ipxe.efi", seconds: 0.01)
        #expect(report.outcome == .aborted)
        #expect(report.summary == "ipxe.efi: size probe (3000 bytes)")
        #expect(report.details["duration_ms"] == nil)
    }

    @Test func aCompletedTransferCarriesItsDurationAndResends() {
        var transfer = Self.transfer(size: 1000, options: [])
        let now = ContinuousClock.now
        _ = transfer.start(now: now)
        _ = transfer.timerFired(now: now + .seconds(5))
        #expect(transfer.receive(.acknowledgement(block: 1), now: now + .seconds(6)) == .sendBlocks(2...2))
        #expect(transfer.receive(.acknowledgement(block: 2), now: now + .seconds(6)) == .complete)
        let report = TFTPTransferReport(.completed, transfer: transfer, file: "a.efi", seconds: 1.2345)
        #expect(report.outcome == .ok)
        #expect(report.summary == "a.efi: sent 1000 bytes")
        #expect(
            report.details == [
                "file": "a.efi", "size": "1000", "blksize": "512", "windowsize": "1", "duration_ms": "1235",
                "resent_blocks": "1",
            ])
        #expect(report.optionSummary == "blksize 512, windowsize 1, 1 blocks resent")
    }

    @Test func anAbortNamesTheBlockItStoppedAt() {
        var transfer = Self.transfer(size: 2000, options: [])
        let now = ContinuousClock.now
        _ = transfer.start(now: now)
        _ = transfer.receive(.acknowledgement(block: 1), now: now)
        let error = TFTPError(.notDefined, "file shrank while being read")
        let report = TFTPTransferReport(.aborted(error, expired: false), transfer: transfer, file: "b", seconds: 1)
        #expect(report.outcome == .failed)
        #expect(report.what == "file shrank while being read at block 1 of 4")
        let ended = TFTPTransferReport(
            .clientEnded(TFTPError(.notDefined, "cancelled")), transfer: transfer, file: "b", seconds: 1)
        #expect(ended.outcome == .failed)
        #expect(ended.what == "client ended the transfer: 0 cancelled")
    }

    static func transfer(size: Int, options: [TFTPOption]) -> TFTPReadTransfer {
        TFTPReadTransfer(
            fileSize: size, parameters: .negotiate(options, fileSize: size, limits: TFTPServerLimits()))
    }
}
