import TFTP
import Testing

@Suite("TFTP round-trip estimate")
struct TFTPRoundTripEstimateTests {
    @Test("RFC 6298 §2: first sample, then smoothing; timeout = smoothed + 4 × variation")
    func rfc6298() {
        var estimate = TFTPRoundTripEstimate(ceiling: .seconds(5))
        #expect(estimate.timeout == .seconds(5))
        estimate.add(.milliseconds(400))
        #expect(estimate.smoothed == .milliseconds(400))
        #expect(estimate.variation == .milliseconds(200))
        #expect(estimate.timeout == .milliseconds(1200))
        estimate.add(.milliseconds(200))
        // variation = 3/4 × 200 + 1/4 × |400 − 200| = 200; smoothed = 7/8 × 400 + 1/8 × 200 = 375.
        #expect(estimate.variation == .milliseconds(200))
        #expect(estimate.smoothed == .milliseconds(375))
        #expect(estimate.timeout == .milliseconds(1175))
    }

    @Test("The timeout stays between the 200 ms floor and the configured ceiling")
    func bounds() {
        var fast = TFTPRoundTripEstimate(ceiling: .seconds(1))
        for _ in 0..<10 { fast.add(.microseconds(300)) }
        #expect(fast.timeout == TFTPRoundTripEstimate.floor)
        var slow = TFTPRoundTripEstimate(ceiling: .seconds(1))
        slow.add(.seconds(3))
        #expect(slow.timeout == .seconds(1))
    }

    @Test("A negotiated timeout is kept whatever the path measures (RFC 2349)")
    func negotiatedTimeoutIsKept() {
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("timeout", "3")], fileSize: 5000, limits: TFTPServerLimits())
        #expect(parameters.timeoutNegotiated)
        var t = TFTPReadTransfer(fileSize: 5000, parameters: parameters)
        let t0 = ContinuousClock.now
        _ = t.start(now: t0)
        #expect(t.receive(.acknowledgement(block: 0), now: t0 + .milliseconds(1)) == .sendBlocks(1...1))
        #expect(t.receive(.acknowledgement(block: 1), now: t0 + .milliseconds(2)) == .sendBlocks(2...2))
        #expect(t.deadline == t0 + .milliseconds(2) + .seconds(3))
    }
}
