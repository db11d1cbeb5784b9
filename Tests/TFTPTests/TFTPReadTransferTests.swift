import TFTP
import Testing

/// One fixed point on the clock; every test works in offsets from it.
private let t0 = ContinuousClock.now

private func at(_ offset: Duration) -> ContinuousClock.Instant { t0 + offset }

private func ack(_ block: Int) -> TFTPPacket { .acknowledgement(block: UInt16(truncatingIfNeeded: block)) }

private func transfer(
    fileSize: Int, blockSize: Int = 512, windowSize: Int = 1, timeout: Duration = .seconds(1),
    options: [TFTPOption] = [], maximumRetries: Int = 6
) -> TFTPReadTransfer {
    TFTPReadTransfer(
        fileSize: fileSize,
        parameters: TFTPTransferParameters(
            blockSize: blockSize, windowSize: windowSize, timeout: timeout, acknowledgedOptions: options),
        maximumRetries: maximumRetries
    )
}

@Suite("TFTP read transfer")
struct TFTPReadTransferTests {
    @Test("Lockstep transfer of a small file")
    func lockstep() {
        var t = transfer(fileSize: 1000)
        #expect(t.lastBlock == 2)
        #expect(t.start(now: at(.zero)) == .sendBlocks(1...1))
        #expect(t.highestSent == 1)
        #expect(t.deadline == at(.seconds(1)))
        #expect(t.receive(ack(1), now: at(.milliseconds(10))) == .sendBlocks(2...2))
        #expect(t.highestAcknowledged == 1)
        // A 10 ms round trip: the next timeout is the 200 ms floor, not the configured second.
        #expect(t.deadline == at(.milliseconds(210)))
        #expect(t.receive(ack(2), now: at(.milliseconds(20))) == .complete)
        #expect(t.highestAcknowledged == 2)
        #expect(t.deadline == nil)
        #expect(t.retransmittedBlocks == 0)
        // Finished: nothing more happens.
        #expect(t.receive(ack(2), now: at(.milliseconds(30))) == .wait)
        #expect(t.timerFired(now: at(.seconds(60))) == .wait)
    }

    @Test("A file that fills its last block exactly ends with an empty block")
    func exactMultiple() {
        var t = transfer(fileSize: 1024)
        #expect(t.lastBlock == 3)
        #expect(t.byteRange(ofBlock: 2) == 512..<1024)
        #expect(t.byteRange(ofBlock: 3) == 1024..<1024)
        #expect(t.start(now: at(.zero)) == .sendBlocks(1...1))
        #expect(t.receive(ack(1), now: at(.zero)) == .sendBlocks(2...2))
        #expect(t.receive(ack(2), now: at(.zero)) == .sendBlocks(3...3))
        #expect(t.receive(ack(3), now: at(.zero)) == .complete)
    }

    @Test("An empty file is one empty block")
    func emptyFile() {
        var t = transfer(fileSize: 0)
        #expect(t.lastBlock == 1)
        #expect(t.byteRange(ofBlock: 1) == 0..<0)
        #expect(t.start(now: at(.zero)) == .sendBlocks(1...1))
        #expect(t.receive(ack(1), now: at(.zero)) == .complete)
    }

    @Test(
        "byteRange(ofBlock:)",
        arguments: [
            (1, 0..<512), (2, 512..<1024), (19, 9216..<9728), (20, 9728..<10000), (21, 10000..<10000),
            (22, 10000..<10000),
        ])
    func byteRange(block: Int, range: Range<Int>) {
        let t = transfer(fileSize: 10_000)
        #expect(t.lastBlock == 20)
        #expect(t.byteRange(ofBlock: block) == range)
    }

    @Test("Window of 4: ACK of the window's last block sends the next window")
    func windowed() {
        var t = transfer(fileSize: 512 * 10 + 100, windowSize: 4)
        #expect(t.lastBlock == 11)
        #expect(t.start(now: at(.zero)) == .sendBlocks(1...4))
        #expect(t.receive(ack(4), now: at(.zero)) == .sendBlocks(5...8))
        #expect(t.highestSent == 8)
        #expect(t.receive(ack(8), now: at(.zero)) == .sendBlocks(9...11))
        #expect(t.highestSent == 11)
        #expect(t.receive(ack(11), now: at(.zero)) == .complete)
        #expect(t.retransmittedBlocks == 0)
    }

    @Test("An ACK short of the window's end restarts the window after it (RFC 7440 §4)")
    func lossInWindow() {
        var t = transfer(fileSize: 512 * 20, windowSize: 4)
        #expect(t.start(now: at(.zero)) == .sendBlocks(1...4))
        #expect(t.receive(ack(2), now: at(.milliseconds(5))) == .sendBlocks(3...6))
        #expect(t.highestAcknowledged == 2)
        #expect(t.highestSent == 6)
        #expect(t.retransmittedBlocks == 2)  // 3 and 4 go out again
        #expect(t.deadline == at(.milliseconds(1005)))
        #expect(t.receive(ack(6), now: at(.milliseconds(10))) == .sendBlocks(7...10))
        #expect(t.retransmittedBlocks == 2)
    }

    @Test("A duplicate ACK of a block sent once resends the window after it, once")
    func duplicateAck() {
        var t = transfer(fileSize: 512 * 20, windowSize: 4)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(4), now: at(.milliseconds(100))) == .sendBlocks(5...8))
        // ACK 4 again 10 ms later, under half the 100 ms round trip: sent twice, not a loss.
        #expect(t.receive(ack(4), now: at(.milliseconds(110))) == .wait)
        #expect(t.promptResends == 0)
        // The client timed out waiting for 5...8 (or lost block 5): its ACK 4 again.
        #expect(t.receive(ack(4), now: at(.milliseconds(200))) == .sendBlocks(5...8))
        #expect(t.promptResends == 1)
        #expect(t.retransmittedBlocks == 4)
        // Further copies of ACK 4 wait for the timer.
        #expect(t.receive(ack(4), now: at(.milliseconds(300))) == .wait)
        #expect(t.highestSent == 8)
        #expect(t.highestAcknowledged == 4)
        #expect(t.retransmittedBlocks == 4)
    }

    @Test("A duplicate ACK that may answer a block sent twice sends nothing (Sorcerer's Apprentice)")
    func duplicateAckOfResentBlock() {
        var t = transfer(fileSize: 512 * 20)
        _ = t.start(now: at(.zero))
        // ACK 1 is slow: the timer sends block 1 again, then the first ACK 1 arrives.
        #expect(t.timerFired(now: at(.seconds(1))) == .sendBlocks(1...1))
        #expect(t.receive(ack(1), now: at(.milliseconds(1100))) == .sendBlocks(2...2))
        // The client's ACK of the second copy of block 1 is no sign of loss, even long after
        // block 2 went out (past the half round trip that would hide a doubled ACK): no send,
        // only the timer comes in to a timeout from now.
        #expect(t.receive(ack(1), now: at(.milliseconds(1700))) == .wait)
        #expect(t.deadline == at(.milliseconds(2700)))
        #expect(t.promptResends == 0)
        #expect(t.receive(ack(2), now: at(.milliseconds(1702))) == .sendBlocks(3...3))
    }

    @Test("Stale ACKs and ACKs for blocks never sent are ignored")
    func staleAck() {
        var t = transfer(fileSize: 512 * 20, windowSize: 4)
        _ = t.start(now: at(.zero))
        _ = t.receive(ack(4), now: at(.zero))
        #expect(t.receive(ack(2), now: at(.zero)) == .wait)
        #expect(t.receive(ack(0), now: at(.zero)) == .wait)
        #expect(t.receive(ack(9), now: at(.zero)) == .wait)  // only 1...8 are out
        #expect(t.receive(ack(65535), now: at(.zero)) == .wait)
        #expect(t.highestAcknowledged == 4)
        #expect(t.receive(ack(8), now: at(.zero)) == .sendBlocks(9...12))
    }

    @Test("Packets other than ACK and ERROR are ignored")
    func otherPackets() {
        var t = transfer(fileSize: 5000)
        _ = t.start(now: at(.zero))
        #expect(t.receive(.readRequest(TFTPRequest(filename: "x")), now: at(.zero)) == .wait)
        #expect(t.receive(.optionAcknowledgement([]), now: at(.zero)) == .wait)
        #expect(t.receive(.data(block: 1, data: .init()), now: at(.zero)) == .wait)
        #expect(t.highestSent == 1 && t.highestAcknowledged == 0)
    }

    @Test("The timer does nothing before its deadline")
    func timerBeforeDeadline() {
        var t = transfer(fileSize: 5000, windowSize: 4)
        _ = t.start(now: at(.zero))
        #expect(t.timerFired(now: at(.milliseconds(999))) == .wait)
        #expect(t.retries == 0)
        #expect(t.deadline == at(.seconds(1)))
        // At the deadline itself it fires.
        #expect(t.timerFired(now: at(.seconds(1))) == .sendBlocks(1...4))
    }

    @Test("The timer resends the unacknowledged window with exponential backoff")
    func retransmissionBackoff() {
        var t = transfer(fileSize: 512 * 20, windowSize: 4)
        _ = t.start(now: at(.zero))
        _ = t.receive(ack(2), now: at(.milliseconds(500)))  // 3...6 out, deadline 1.5 s
        #expect(t.deadline == at(.milliseconds(1500)))

        var now = at(.milliseconds(1500))
        #expect(t.timerFired(now: now) == .sendBlocks(3...6))
        #expect(t.retries == 1)
        #expect(t.retransmittedBlocks == 2 + 4)
        #expect(t.deadline == now + .seconds(2))
        // Each further expiry doubles the interval, up to 16 s; the last one ends at the give-up,
        // 1 + 2 + 4 + 8 + 16 + 16 + 16 = 63 s after the last progress.
        for (retry, interval) in [(2, 4), (3, 8), (4, 16), (5, 16), (6, 16)] {
            now = t.deadline!
            #expect(t.timerFired(now: now) == .sendBlocks(3...6))
            #expect(t.retries == retry)
            #expect(t.deadline == now + .seconds(interval))
        }
        #expect(t.deadline == at(.milliseconds(500)) + t.patience)
        // Progress on the resent window keeps the backoff (Karn: that ACK measures nothing) ...
        now = now + .milliseconds(100)
        #expect(t.receive(ack(6), now: now) == .sendBlocks(7...10))
        #expect(t.retries == 0)
        #expect(t.deadline == now + .seconds(16))
        // ... until a window sent once is acknowledged: 10 ms, so the 200 ms floor.
        now = now + .milliseconds(10)
        #expect(t.receive(ack(10), now: now) == .sendBlocks(11...14))
        #expect(t.deadline == now + .milliseconds(200))
    }

    @Test("A path slower than the timer keeps the backed-off timer until a window sent once is acknowledged")
    func karnKeepsTheBackoff() {
        var t = transfer(fileSize: 512 * 20)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(1), now: at(.milliseconds(10))) == .sendBlocks(2...2))
        #expect(t.deadline == at(.milliseconds(210)))
        // The path now takes 500 ms: the timer resends block 2, then the first copy's ACK comes,
        // 300 ms after the resend (too late to answer it on a 10 ms path).
        #expect(t.timerFired(now: at(.milliseconds(210))) == .sendBlocks(2...2))
        #expect(t.receive(ack(2), now: at(.milliseconds(510))) == .sendBlocks(3...3))
        // Resetting to 200 ms would resend every block before its ACK, for ever; 400 ms stays.
        #expect(t.deadline == at(.milliseconds(910)))
        #expect(t.timerFired(now: at(.milliseconds(910))) == .sendBlocks(3...3))
        #expect(t.receive(ack(3), now: at(.milliseconds(1010))) == .sendBlocks(4...4))
        #expect(t.deadline == at(.milliseconds(1810)))
        // Block 4 went out once: its ACK after 500 ms is a sample, and the timer now covers it.
        #expect(t.receive(ack(4), now: at(.milliseconds(1510))) == .sendBlocks(5...5))
        #expect(t.roundTrip.timeout > .milliseconds(500))
        #expect(t.deadline == at(.milliseconds(1510)) + t.roundTrip.timeout)
    }

    @Test("An ACK one round trip after the resend answers it: the loss was real, the backoff ends")
    func ackOfTheResendResetsTheBackoff() {
        var t = transfer(fileSize: 512 * 20)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(1), now: at(.milliseconds(10))) == .sendBlocks(2...2))
        #expect(t.timerFired(now: at(.milliseconds(210))) == .sendBlocks(2...2))
        #expect(t.deadline == at(.milliseconds(610)))
        #expect(t.receive(ack(2), now: at(.milliseconds(220))) == .sendBlocks(3...3))
        #expect(t.deadline == at(.milliseconds(420)))
    }

    @Test("Twice in a row an ACK short of the window may answer a copy: only the blocks out go again (EDK2)")
    func shortAcksOfResentBlocksRealign() {
        var t = transfer(fileSize: 512 * 20, windowSize: 4)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(4), now: at(.milliseconds(10))) == .sendBlocks(5...8))
        // Block 8 is lost; the timer resends 5...8. EDK2 has 5...7 and answers the copy of 5 with
        // ACK 7 at once, counting its next window from there; the first 8 is still on its way.
        #expect(t.timerFired(now: at(.milliseconds(210))) == .sendBlocks(5...8))
        // Once, a whole window restarts (a client that drops what follows a gap needs it) ...
        #expect(t.receive(ack(7), now: at(.milliseconds(211))) == .sendBlocks(8...11))
        // ... but EDK2 answers the copy of 8 with ACK 8, short again: only 9...11, already out,
        // go again, and their copies draw ACK 11, the end of what is out.
        #expect(t.receive(ack(8), now: at(.milliseconds(212))) == .sendBlocks(9...11))
        #expect(t.highestSent == 11)
        #expect(t.receive(ack(11), now: at(.milliseconds(213))) == .sendBlocks(12...15))
        // An ACK short of a window of blocks sent once restarts a whole window.
        #expect(t.receive(ack(13), now: at(.milliseconds(220))) == .sendBlocks(14...17))
    }

    @Test("Backoff never shortens a longer negotiated timeout")
    func backoffWithLongTimeout() {
        var t = transfer(fileSize: 5000, timeout: .seconds(30))
        _ = t.start(now: at(.zero))
        #expect(t.deadline == at(.seconds(30)))
        #expect(t.timerFired(now: at(.seconds(30))) == .sendBlocks(1...1))
        let interval = t.deadline! - at(.seconds(30))
        #expect(interval >= .seconds(30))
    }

    @Test("Retransmission near the end stops at the last block")
    func retransmitClampsToLastBlock() {
        var t = transfer(fileSize: 512 * 5 + 1, windowSize: 4)  // blocks 1...6
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(4), now: at(.zero)) == .sendBlocks(5...6))
        #expect(t.timerFired(now: at(.seconds(1))) == .sendBlocks(5...6))
        #expect(t.retransmittedBlocks == 2)
    }

    @Test("Gives up with an ERROR after maximumRetries expiries")
    func abortAfterRetries() {
        var t = transfer(fileSize: 5000, maximumRetries: 3)
        #expect(t.patience == .seconds(15))
        _ = t.start(now: at(.zero))
        for retry in 1...3 {
            #expect(t.timerFired(now: t.deadline!) == .sendBlocks(1...1))
            #expect(t.retries == retry)
        }
        #expect(t.deadline == at(.seconds(15)))
        let timedOut = TFTPError(.notDefined, "timed out: no acknowledgement for 15 s")
        #expect(t.timerFired(now: t.deadline!) == .abort(timedOut))
        #expect(t.deadline == nil)
        #expect(t.timerFired(now: at(.seconds(3600))) == .wait)
        #expect(t.receive(ack(1), now: at(.seconds(3600))) == .wait)
    }

    @Test("With options: OACK first, then DATA after ACK 0")
    func optionAcknowledgement() {
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("blksize", "1468"), TFTPOption("tsize", "0")], fileSize: 3000, limits: TFTPServerLimits())
        var t = TFTPReadTransfer(fileSize: 3000, parameters: parameters)
        #expect(t.lastBlock == 3)
        #expect(
            t.start(now: at(.zero))
                == .sendOptionAcknowledgement([TFTPOption("blksize", "1468"), TFTPOption("tsize", "3000")]))
        #expect(t.highestSent == 0)
        // Anything but ACK 0 is ignored while the OACK is out.
        #expect(t.receive(ack(1), now: at(.milliseconds(10))) == .wait)
        #expect(t.receive(ack(65535), now: at(.milliseconds(10))) == .wait)
        // A lost OACK is resent by the timer.
        #expect(t.timerFired(now: at(.seconds(1))) == .sendOptionAcknowledgement(parameters.acknowledgedOptions))
        #expect(t.retries == 1)
        #expect(t.receive(ack(0), now: at(.milliseconds(1100))) == .sendBlocks(1...1))
        #expect(t.retries == 0)
        // The resent OACK's ACK measures nothing: the backed-off 2 s stays (Karn).
        #expect(t.deadline == at(.milliseconds(3100)))
        #expect(t.byteRange(ofBlock: 3) == 2936..<3000)
        // A repeated ACK 0 is now a duplicate.
        #expect(t.receive(ack(0), now: at(.milliseconds(1200))) == .wait)
        #expect(t.receive(ack(1), now: at(.milliseconds(1300))) == .sendBlocks(2...2))
        #expect(t.receive(ack(2), now: at(.milliseconds(1400))) == .sendBlocks(3...3))
        #expect(t.receive(ack(3), now: at(.milliseconds(1500))) == .complete)
    }

    @Test("ACK 0 opens a whole window when windowsize was negotiated")
    func optionAcknowledgementWindow() {
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("windowsize", "8")], fileSize: 512 * 100, limits: TFTPServerLimits())
        var t = TFTPReadTransfer(fileSize: 512 * 100, parameters: parameters)
        #expect(t.start(now: at(.zero)) == .sendOptionAcknowledgement([TFTPOption("windowsize", "8")]))
        #expect(t.receive(ack(0), now: at(.zero)) == .sendBlocks(1...8))
    }

    @Test("The client's ERROR 8 after the OACK ends the transfer (EDK2 tsize probe)")
    func clientAbortsAfterOACK() {
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("tsize", "0")], fileSize: 1_234_567, limits: TFTPServerLimits())
        var t = TFTPReadTransfer(fileSize: 1_234_567, parameters: parameters)
        #expect(t.start(now: at(.zero)) == .sendOptionAcknowledgement([TFTPOption("tsize", "1234567")]))
        let error = TFTPError(.optionNegotiationFailed, "User aborted the transfer")
        #expect(t.receive(.error(error), now: at(.milliseconds(3))) == .sizeProbeEnded)
        #expect(t.deadline == nil)
        #expect(t.highestSent == 0)
        #expect(t.receive(ack(0), now: at(.milliseconds(4))) == .wait)
        #expect(t.timerFired(now: at(.seconds(10))) == .wait)
    }

    @Test("Error 8 after the first block is not a size probe")
    func optionErrorAfterABlockIsAFailure() {
        var t = transfer(fileSize: 512 * 10)
        _ = t.start(now: at(.zero))
        _ = t.receive(ack(1), now: at(.zero))
        let error = TFTPError(.optionNegotiationFailed, "changed its mind")
        #expect(t.receive(.error(error), now: at(.zero)) == .clientEnded(error))
    }

    @Test("A client ERROR in the middle of a transfer ends it")
    func clientErrorMidTransfer() {
        var t = transfer(fileSize: 512 * 10)
        _ = t.start(now: at(.zero))
        _ = t.receive(ack(1), now: at(.zero))
        let error = TFTPError(.diskFull, "no space")
        #expect(t.receive(.error(error), now: at(.zero)) == .clientEnded(error))
        #expect(t.receive(ack(2), now: at(.zero)) == .wait)
    }

    @Test("Block numbers roll over past 65535 and the transfer ends at the right absolute block")
    func rolloverLockstep() {
        // 70000 blocks of 8 octets, the last one 5 octets long.
        let fileSize = 69_999 * 8 + 5
        var t = transfer(fileSize: fileSize, blockSize: 8)
        #expect(t.lastBlock == 70_000)
        #expect(t.byteRange(ofBlock: 70_000) == 559_992..<559_997)
        #expect(t.byteRange(ofBlock: 65_536) == 524_280..<524_288)

        var action = t.start(now: at(.zero))
        var mismatches: [String] = []
        for block in 1...70_000 {
            if action != .sendBlocks(block...block) { mismatches.append("before ACK \(block): \(action)") }
            let wire = UInt16(truncatingIfNeeded: block)
            if block == 65_536 && wire != 0 { mismatches.append("65536 is not wire block 0") }
            action = t.receive(.acknowledgement(block: wire), now: at(.zero))
            if mismatches.count > 5 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
        #expect(action == .complete)
        #expect(t.highestAcknowledged == 70_000)
        #expect(t.highestSent == 70_000)
    }

    @Test("Windows span the 65535 → 0 boundary; stale pre-rollover ACKs are ignored")
    func rolloverWindowed() {
        let fileSize = 69_999 * 8 + 5
        var t = transfer(fileSize: fileSize, blockSize: 8, windowSize: 8)
        var action = t.start(now: at(.zero))
        // Walk window by window up to the boundary: windows are 1...8, 9...16, ..., 65529...65536.
        while case .sendBlocks(let range) = action, range.upperBound < 65_536 {
            action = t.receive(ack(range.upperBound), now: at(.zero))
        }
        #expect(action == .sendBlocks(65_529...65_536))
        // The client loses the window after 65535 and ACKs it: the window restarts at 65536 (wire 0).
        #expect(t.receive(.acknowledgement(block: 65_535), now: at(.zero)) == .sendBlocks(65_536...65_543))
        // A late duplicate of ACK 65535, and an old one from before, do nothing.
        #expect(t.receive(.acknowledgement(block: 65_535), now: at(.zero)) == .wait)
        #expect(t.receive(.acknowledgement(block: 65_528), now: at(.zero)) == .wait)
        // Wire 7 is absolute block 65543.
        #expect(t.receive(.acknowledgement(block: 7), now: at(.zero)) == .sendBlocks(65_544...65_551))
        #expect(t.highestAcknowledged == 65_543)
        // The timer resends absolute blocks too.
        #expect(t.timerFired(now: at(.seconds(1))) == .sendBlocks(65_544...65_551))

        action = t.receive(.acknowledgement(block: UInt16(truncatingIfNeeded: 65_551)), now: at(.seconds(1)))
        while case .sendBlocks(let range) = action {
            action = t.receive(ack(range.upperBound), now: at(.seconds(1)))
        }
        #expect(action == .complete)
        #expect(t.highestAcknowledged == 70_000)
        // 70000 = 1 × 65536 + 4464: the final wire ACK was 4464; an early 4464 did not end it.
        #expect(UInt16(truncatingIfNeeded: 70_000) == 4464)
    }

    @Test("Before rollover, wire block 4464 does not complete a 70000-block transfer")
    func earlyWireNumberIsNotTheEnd() {
        var t = transfer(fileSize: 69_999 * 8 + 5, blockSize: 8, windowSize: 64)
        var action = t.start(now: at(.zero))
        while case .sendBlocks(let range) = action, range.upperBound < 4464 {
            action = t.receive(ack(range.upperBound), now: at(.zero))
        }
        #expect(action == .sendBlocks(4417...4480))
        #expect(t.receive(.acknowledgement(block: 4464), now: at(.zero)) == .sendBlocks(4465...4528))
        #expect(t.highestAcknowledged == 4464)
    }
}

extension TFTPReadTransferTests {
    /// A client re-sends its ACK when it times out. When that ACK may answer a block sent twice it
    /// must not trigger a send, but the timer need not wait out its backoff: it comes in to one
    /// timeout from now.
    @Test func repeatedACKBringsTheTimerInWithoutSending() {
        var transfer = TFTPReadTransfer(
            fileSize: 5000, parameters: TFTPTransferParameters(blockSize: 512, timeout: .seconds(1)))
        #expect(transfer.start(now: at(.zero)) == .sendBlocks(1...1))
        // DATA 1 lost: the timer resends it (backoff 2 s), and its ACK comes; the backoff stays.
        #expect(transfer.timerFired(now: at(.seconds(1))) == .sendBlocks(1...1))
        #expect(transfer.receive(.acknowledgement(block: 1), now: at(.milliseconds(1010))) == .sendBlocks(2...2))
        #expect(transfer.deadline == at(.milliseconds(3010)))
        // DATA 2 lost twice: the timer at +2 s, then the backoff doubles to 4 s.
        #expect(transfer.timerFired(now: at(.milliseconds(3010))) == .sendBlocks(2...2))
        #expect(transfer.deadline == at(.milliseconds(7010)))
        // ACK 1 again, well past half a round trip: block 1 went out twice, so no send, but the
        // deadline comes in to now + 1 s.
        #expect(transfer.receive(.acknowledgement(block: 1), now: at(.milliseconds(3700))) == .wait)
        #expect(transfer.promptResends == 0)
        #expect(transfer.deadline == at(.milliseconds(4700)))
        // A stale ACK (older than the last) changes nothing.
        #expect(transfer.receive(.acknowledgement(block: 0), now: at(.milliseconds(3800))) == .wait)
        #expect(transfer.deadline == at(.milliseconds(4700)))
    }
}

/// Issue 11 (medium 5): how long a transfer can hold its slot.
extension TFTPReadTransferTests {
    @Test("A client that acknowledges just before each timeout is ended at the lifetime")
    func lifetimeEndsASlowClient() {
        var t = TFTPReadTransfer(
            fileSize: 512 * 1000, parameters: TFTPTransferParameters(timeout: .seconds(1)), lifetime: .seconds(30))
        _ = t.start(now: at(.zero))
        var now = at(.zero)
        var block = 0
        // One block every 0.9 s: never a retransmission, never finished.
        while now < at(.seconds(29)) {
            now = now + .milliseconds(900)
            block += 1
            #expect(t.receive(ack(block), now: now) == .sendBlocks((block + 1)...(block + 1)))
        }
        #expect(t.deadline == at(.seconds(30)), "the lifetime comes before the next retransmission")
        #expect(
            t.timerFired(now: at(.seconds(30))) == .abort(TFTPError(.notDefined, "transfer not finished within 30 s")))
        #expect(t.expired)
        #expect(t.deadline == nil)
        #expect(t.receive(ack(block + 1), now: at(.seconds(30))) == .wait)
    }

    @Test("Without a lifetime the transfer runs as long as the client acknowledges")
    func noLifetime() {
        var t = transfer(fileSize: 512 * 1000)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(1), now: at(.seconds(3600))) == .sendBlocks(2...2))
        #expect(!t.expired)
    }

    /// The worst case for a client that goes silent: the longest timeout the server accepts
    /// (TFTPServerLimits.maximumTimeoutSeconds, 10 s), then six retransmissions backed off to
    /// 16 s: 10 + 6 × 16 = 106 s.
    @Test("A silent client is dropped after the configured timeout's backoff, however short the measured timer")
    func silentClientOnAFastPath() {
        var t = transfer(fileSize: 512 * 20)
        _ = t.start(now: at(.zero))
        #expect(t.receive(ack(1), now: at(.milliseconds(10))) == .sendBlocks(2...2))
        var last = at(.zero)
        var resends = 0
        while let deadline = t.deadline {
            last = deadline
            guard case .sendBlocks = t.timerFired(now: deadline) else { break }
            resends += 1
        }
        // 63 s, as with the 1 s timer alone; from 200 ms the timer resends more often on the way.
        #expect(last == at(.milliseconds(10)) + .seconds(63))
        #expect(resends > 6)
    }

    @Test("A silent client at the longest accepted timeout is dropped after 106 s")
    func silentClientWorstCase() {
        let limits = TFTPServerLimits()
        let parameters = TFTPTransferParameters.negotiate(
            [TFTPOption("timeout", String(limits.maximumTimeoutSeconds))], fileSize: 5000, limits: limits)
        var t = TFTPReadTransfer(fileSize: 5000, parameters: parameters, lifetime: .seconds(300))
        _ = t.start(now: at(.zero))
        var last = at(.zero)
        while let deadline = t.deadline {
            last = deadline
            if case .abort = t.timerFired(now: deadline) { break }
        }
        #expect(last == at(.seconds(106)))
        #expect(!t.expired)
    }
}
