import TFTP
import Testing

/// Whole transfers played against simulated clients on a path that loses packets: every one
/// completes, promptly, and no path makes the server send every block twice.
@Suite("TFTP loss recovery")
struct TFTPLossRecoveryTests {
    /// How a client acknowledges, modelled on the two firmware clients vboot serves.
    enum Client {
        /// iPXE: lockstep; acknowledges every DATA it gets, copies included (RFC 1350's rule);
        /// re-sends its last ACK after `timeout`.
        case lockstep(timeout: Duration)
        /// EDK2 with windowsize: acknowledges each window's last block, and on a gap the last block
        /// in order, once per gap (dropping what follows, as RFC 7440 §4 expects); ignores copies
        /// of blocks it has; re-sends its last ACK after `timeout`.
        case windowed(Int, timeout: Duration)
    }

    struct Outcome {
        var completed: Bool
        var elapsed: Duration
        var dataSent: Int
        var blocks: Int
    }

    /// Runs one transfer of `blocks` blocks to completion or for at most 10 simulated minutes.
    /// `lose(n)` says whether the n-th packet on the path (either way, counted from 0) is lost.
    static func play(
        blocks: Int, client: Client, oneWay: Duration = .microseconds(250),
        delayFirstAck: (block: Int, by: Duration)? = nil,
        timeout: Duration = .seconds(1), lose: (Int) -> Bool = { _ in false }
    ) -> Outcome {
        let window: Int
        let clientTimeout: Duration
        switch client {
        case .lockstep(let timeout): (window, clientTimeout) = (1, timeout)
        case .windowed(let size, let timeout): (window, clientTimeout) = (size, timeout)
        }
        let t0 = ContinuousClock.now
        var transfer = TFTPReadTransfer(
            fileSize: 512 * blocks - 1,
            parameters: TFTPTransferParameters(blockSize: 512, windowSize: window, timeout: timeout))
        // Events in flight: (when, toClient, block).
        var path: [(at: Duration, toClient: Bool, block: Int)] = []
        var packets = 0
        var dataSent = 0
        var now = Duration.zero
        var expected = 1
        var gapReported = false
        var lastAck = 0
        var clientTimer = clientTimeout
        var delayed = false

        func send(_ toClient: Bool, _ block: Int, delay: Duration = .zero) {
            defer { packets += 1 }
            if lose(packets) { return }
            path.append((now + oneWay + delay, toClient, block))
        }
        func server(_ action: TFTPReadTransfer.Action) -> Bool {
            switch action {
            case .sendBlocks(let range):
                for block in range {
                    dataSent += 1
                    send(true, block)
                }
            case .complete: return true
            default: break
            }
            return false
        }
        func acknowledge(_ block: Int) {
            var delay = Duration.zero
            if let delayFirstAck, delayFirstAck.block == block, !delayed {
                delayed = true
                delay = delayFirstAck.by
            }
            lastAck = block
            clientTimer = now + clientTimeout
            send(false, block, delay: delay)
        }

        _ = server(transfer.start(now: t0))
        for _ in 0..<1_000_000 {
            let serverTimer = transfer.deadline.map { $0 - t0 }
            let next = path.indices.min { path[$0].at < path[$1].at }
            let candidates = [next.map { path[$0].at }, serverTimer, clientTimer].compactMap { $0 }
            guard let soonest = candidates.min(), soonest < .seconds(600) else { break }
            now = soonest
            if let next, path[next].at == soonest {
                let event = path.remove(at: next)
                if event.toClient {
                    if event.block == expected {
                        expected += 1
                        gapReported = false
                        if (expected - 1) % window == 0 || event.block == blocks { acknowledge(event.block) }
                    } else if event.block < expected {
                        if window == 1 { acknowledge(expected - 1) }
                    } else if !gapReported {
                        gapReported = true
                        acknowledge(expected - 1)
                    }
                } else if server(
                    transfer.receive(.acknowledgement(block: UInt16(truncatingIfNeeded: event.block)), now: t0 + now))
                {
                    return Outcome(completed: true, elapsed: now, dataSent: dataSent, blocks: blocks)
                }
            } else if serverTimer == soonest {
                let action = transfer.timerFired(now: t0 + now)
                if case .abort = action { break }
                _ = server(action)
            } else {
                acknowledge(lastAck)
            }
        }
        return Outcome(completed: false, elapsed: now, dataSent: dataSent, blocks: blocks)
    }

    /// Every 20th packet lost, either way: 5 %.
    static func fivePercent(_ n: Int) -> Bool { n % 20 == 19 }

    @Test("Lockstep (iPXE) under 5 % loss: each loss costs at most the 200 ms floor")
    func lockstepUnderLoss() {
        let outcome = Self.play(blocks: 700, client: .lockstep(timeout: .seconds(1)), lose: Self.fivePercent)
        #expect(outcome.completed)
        // About 70 losses (1,400 packets); the configured 1 s timer alone would take 70 s.
        #expect(outcome.elapsed < .seconds(20))
        // A resend per loss (70) and a few more.
        #expect(outcome.dataSent < outcome.blocks * 115 / 100)
    }

    @Test("Windowed (EDK2, window 4) under 5 % loss: gaps and lost ACKs are resent at once")
    func windowedUnderLoss() {
        let outcome = Self.play(blocks: 700, client: .windowed(4, timeout: .seconds(4)), lose: Self.fivePercent)
        #expect(outcome.completed)
        #expect(outcome.elapsed < .seconds(15))
        // At most a window per loss.
        #expect(outcome.dataSent < outcome.blocks * 14 / 10)
    }

    @Test("Windowed: a window whose first block is lost is resent on the client's gap ACK")
    func windowedFirstBlockLost() {
        // Packets: 0 is block 1, 1...3 are 2...4, 4 the ACK 4, 5 is block 5 (lost).
        let outcome = Self.play(blocks: 12, client: .windowed(4, timeout: .seconds(4)), lose: { $0 == 5 })
        #expect(outcome.completed)
        #expect(outcome.elapsed < .milliseconds(50))
    }

    /// The classic trigger (RFC 1123 §4.2.3.1): ACK 10 arrives just after the timer resent block
    /// 10 and the copy's ACK came back, so block 11 is on its way twice. A server that answered
    /// that ACK, and then each ACK of a doubled block, would send every later block twice.
    @Test("An ACK delayed past the timer does not make every later block go out twice")
    func delayedAckIsNotTheSorcerersApprentice() {
        // Block 10 leaves 200 ms before the timer (the floor; the path is 0.5 ms); its copy's ACK
        // is back at 200.5 ms after it; the original ACK, 200.75 ms.
        let outcome = Self.play(
            blocks: 200, client: .lockstep(timeout: .seconds(5)), delayFirstAck: (10, .microseconds(200_500)))
        #expect(outcome.completed)
        #expect(outcome.dataSent <= outcome.blocks + 2)
    }

    @Test("Without loss no block is sent twice")
    func cleanPath() {
        for client in [Client.lockstep(timeout: .seconds(1)), .windowed(8, timeout: .seconds(4))] {
            let outcome = Self.play(blocks: 500, client: client)
            #expect(outcome.completed)
            #expect(outcome.dataSent == outcome.blocks)
        }
    }
}
