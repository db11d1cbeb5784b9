import TFTP
import Testing

/// Whole transfers played against simulated clients on a path that loses packets: every one
/// completes, promptly, and no path makes the server send every block twice. The clients follow
/// the code of the firmware and tools vboot serves, not RFC 7440's idealised receiver.
@Suite("TFTP loss recovery")
struct TFTPLossRecoveryTests {
    /// How a client acknowledges.
    enum Client {
        /// iPXE (`tftp_rx_data`): lockstep; every DATA it gets, copies included, is answered with
        /// an ACK of the last block it has in order (RFC 1350's rule).
        case ipxe(timeout: Duration)
        /// EDK2 (`Mtftp4RrqHandleData`): any block but the next expected one is dropped and
        /// answered at once with an ACK of the block before it, copies included; an expected
        /// block is kept and acknowledged when `window` blocks were kept since the last ACK (of
        /// either kind), or when it is the last.
        case edk2(window: Int, timeout: Duration)
        /// atftp 0.8 (`tftp_receive_file`): the first block out of order after one in order
        /// (a gap or a copy) is answered with an ACK of the last block in order and restarts the
        /// window count; further ones are ignored; `window` blocks in order make an ACK.
        case atftp(window: Int, timeout: Duration)

        var window: Int {
            switch self {
            case .ipxe: 1
            case .edk2(let window, _), .atftp(let window, _): window
            }
        }
        var timeout: Duration {
            switch self {
            case .ipxe(let timeout), .edk2(_, let timeout), .atftp(_, let timeout): timeout
            }
        }
    }

    /// The receiving side of one client: what it has, and what it says back.
    struct Receiver {
        let client: Client
        let blocks: Int
        var expected = 1
        var keptSinceAck = 0
        var outOfOrderAnswered = false
        var lastAck = 0

        /// The ACK this DATA makes the client send, if any.
        mutating func receive(_ block: Int) -> Int? {
            let inOrder = block == expected
            if inOrder {
                expected += 1
                keptSinceAck += 1
                outOfOrderAnswered = false
            }
            switch client {
            case .ipxe:
                return acknowledge(expected - 1)
            case .edk2(let window, _):
                if !inOrder || keptSinceAck == window || block == blocks { return acknowledge(expected - 1) }
            case .atftp(let window, _):
                if inOrder {
                    if keptSinceAck == window || block == blocks { return acknowledge(expected - 1) }
                } else if !outOfOrderAnswered {
                    outOfOrderAnswered = true
                    return acknowledge(expected - 1)
                }
            }
            return nil
        }

        mutating func acknowledge(_ block: Int) -> Int {
            keptSinceAck = 0
            lastAck = block
            return block
        }
    }

    struct Outcome {
        var completed: Bool
        var elapsed: Duration
        var dataSent: Int
        var blocks: Int
        /// Windows the server's timer resent.
        var timerResends = 0
    }

    /// A repeatable 5 % (or `percent`) loss, either way: SplitMix64 from `seed`.
    struct LossyPath {
        var state: UInt64
        let percent: UInt64
        init(seed: UInt64, percent: UInt64 = 5) {
            state = seed
            self.percent = percent
        }
        mutating func loses() -> Bool {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return z % 100 < percent
        }
    }

    /// Runs one transfer of `blocks` blocks to completion or for at most 10 simulated minutes.
    /// `lose(n)` says whether the n-th packet on the path (either way, counted from 0) is lost;
    /// the last block's final ACK never is (the client would repeat it, the sum would not change).
    static func play(
        blocks: Int, client: Client, oneWay: Duration = .microseconds(250),
        delayFirstAck: (block: Int, by: Duration)? = nil,
        timeout: Duration = .seconds(1), lose: (Int) -> Bool = { _ in false }
    ) -> Outcome {
        let t0 = ContinuousClock.now
        var transfer = TFTPReadTransfer(
            fileSize: 512 * blocks - 1,
            parameters: TFTPTransferParameters(blockSize: 512, windowSize: client.window, timeout: timeout))
        var receiver = Receiver(client: client, blocks: blocks)
        // Packets in flight: (when, toClient, block).
        var path: [(at: Duration, toClient: Bool, block: Int)] = []
        var packets = 0
        var dataSent = 0
        var now = Duration.zero
        var clientTimer = client.timeout
        var delayed = false
        var timerResends = 0

        func send(_ toClient: Bool, _ block: Int, delay: Duration = .zero) {
            defer { packets += 1 }
            if lose(packets), toClient || block != blocks { return }
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
            clientTimer = now + client.timeout
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
                    if case .atftp = client { clientTimer = now + client.timeout }
                    if let ack = receiver.receive(event.block) { acknowledge(ack) }
                } else if server(
                    transfer.receive(.acknowledgement(block: UInt16(truncatingIfNeeded: event.block)), now: t0 + now))
                {
                    return Outcome(
                        completed: true, elapsed: now, dataSent: dataSent, blocks: blocks, timerResends: timerResends)
                }
            } else if serverTimer == soonest {
                let action = transfer.timerFired(now: t0 + now)
                if case .abort = action { break }
                timerResends += 1
                _ = server(action)
            } else {
                acknowledge(receiver.acknowledge(receiver.lastAck))
            }
        }
        return Outcome(
            completed: false, elapsed: now, dataSent: dataSent, blocks: blocks, timerResends: timerResends)
    }

    struct LossSummary {
        var completed: Bool
        var slowest: Duration
        var worstRatio: Double
    }

    /// Plays 700 blocks over a 5 % lossy path once per seed; the slowest and the costliest run.
    static func underLoss(_ client: Client, seeds: ClosedRange<UInt64> = 1...8) -> LossSummary {
        var completed = true
        var slowest = Duration.zero
        var worstRatio = 0.0
        for seed in seeds {
            var path = LossyPath(seed: seed)
            let outcome = play(blocks: 700, client: client, lose: { _ in path.loses() })
            completed = completed && outcome.completed
            slowest = max(slowest, outcome.elapsed)
            worstRatio = max(worstRatio, Double(outcome.dataSent) / Double(outcome.blocks))
        }
        return LossSummary(completed: completed, slowest: slowest, worstRatio: worstRatio)
    }

    @Test("Lockstep (iPXE) under 5 % loss: each loss costs about the 200 ms floor")
    func lockstepUnderLoss() {
        let result = Self.underLoss(.ipxe(timeout: .seconds(1)))
        #expect(result.completed)
        // About 70 losses (1,400 packets); the configured 1 s timer alone would take 70 s.
        #expect(result.slowest < .seconds(25))
        // A resend per loss (70) and a few more.
        #expect(result.worstRatio < 1.15)
    }

    @Test(
        "Windowed clients under 5 % loss: gaps and lost ACKs are resent at once, no block goes out twice by habit",
        arguments: [Client.edk2(window: 4, timeout: .seconds(4)), .atftp(window: 4, timeout: .seconds(5))])
    func windowedUnderLoss(client: Client) {
        let result = Self.underLoss(client)
        #expect(result.completed)
        #expect(result.slowest < .seconds(20))
        // At most a window per loss; a server that sent every window twice would be near 2.
        #expect(result.worstRatio < 1.45)
    }

    @Test(
        "Windowed: a window whose first block is lost is resent on the client's gap ACK",
        arguments: [Client.edk2(window: 4, timeout: .seconds(4)), .atftp(window: 4, timeout: .seconds(5))])
    func windowedFirstBlockLost(client: Client) {
        // Packets: 0 is block 1, 1...3 are 2...4, 4 the ACK 4, 5 is block 5 (lost).
        let outcome = Self.play(blocks: 12, client: client, lose: { $0 == 5 })
        #expect(outcome.completed)
        #expect(outcome.elapsed < .milliseconds(50))
    }

    /// EDK2 answers each copy with an ACK and counts its next window from there. Losing the last
    /// block of a window makes the timer resend the window; the copies' ACK lands short of the
    /// window the server has out. Restarting a whole window after each such ACK made the next
    /// window arrive as copies again: every later block went out twice (1,397 DATA for 700; 708
    /// now).
    @Test("EDK2: a window's last block lost once does not make every later block go out twice")
    func edk2LastBlockOfWindowLost() {
        // Packets: blocks 1...4 are 0...3, the ACK 4, blocks 5...8 are 5...8: block 8 is lost.
        let outcome = Self.play(blocks: 700, client: .edk2(window: 4, timeout: .seconds(4)), lose: { $0 == 8 })
        #expect(outcome.completed)
        #expect(outcome.dataSent <= outcome.blocks + 12)
        #expect(outcome.elapsed < .seconds(2))
    }

    /// The classic trigger (RFC 1123 §4.2.3.1): ACK 10 arrives just after the timer resent block
    /// 10 and the copy's ACK came back, so block 11 is on its way twice. A server that answered
    /// that ACK, and then each ACK of a doubled block, would send every later block twice.
    @Test("An ACK delayed past the timer does not make every later block go out twice")
    func delayedAckIsNotTheSorcerersApprentice() {
        // Block 10 leaves 200 ms before the timer (the floor; the path is 0.5 ms); its copy's ACK
        // is back at 200.5 ms after it; the original ACK, 200.75 ms.
        let outcome = Self.play(
            blocks: 200, client: .ipxe(timeout: .seconds(5)), delayFirstAck: (10, .microseconds(200_500)))
        #expect(outcome.completed)
        #expect(outcome.dataSent <= outcome.blocks + 2)
    }

    @Test(
        "Without loss no block is sent twice",
        arguments: [
            Client.ipxe(timeout: .seconds(1)), .edk2(window: 8, timeout: .seconds(4)),
            .atftp(window: 8, timeout: .seconds(5)),
        ])
    func cleanPath(client: Client) {
        let outcome = Self.play(blocks: 500, client: client)
        #expect(outcome.completed)
        #expect(outcome.dataSent == outcome.blocks)
    }
}

extension TFTPLossRecoveryTests.Client: CustomTestStringConvertible {
    var testDescription: String {
        switch self {
        case .ipxe: "iPXE"
        case .edk2(let window, _): "EDK2, window \(window)"
        case .atftp(let window, _): "atftp, window \(window)"
        }
    }
}
