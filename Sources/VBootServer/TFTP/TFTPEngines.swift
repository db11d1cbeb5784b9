/// The transfer engines: one thread each, one per CPU by default (`--tftp-threads`). A new
/// transfer goes to the engine running the fewest and stays there, so each transfer's state
/// machine is still touched by one thread only; 32 windowed transfers on one thread ran at
/// 0.95× atftpd, which spreads them over every core, and at 1.31–1.37× on two.
final class TFTPEngines: Sendable {
    let engines: [TFTPTransferEngine]

    init(count: Int, make: (_ name: String) -> TFTPTransferEngine) {
        engines = (0..<max(1, count)).map { make(count > 1 ? "vboot-tftp-\($0)" : "vboot-tftp") }
    }

    /// Starts every engine's thread; none runs if one cannot start.
    func start() async throws {
        do {
            for engine in engines { try engine.start() }
        } catch {
            await stop()
            throw error
        }
    }

    /// Ends every running transfer and the threads.
    func stop() async {
        for engine in engines { await engine.stop() }
    }

    func begin(_ start: TFTPTransferEngine.Start) {
        engines[Self.leastLoaded(engines.map(\.transfers))].begin(start)
    }

    /// The index of the smallest load, the first of equals.
    static func leastLoaded(_ loads: [Int]) -> Int {
        var least = 0
        for index in loads.indices where loads[index] < loads[least] { least = index }
        return least
    }
}
