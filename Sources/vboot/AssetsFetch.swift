import ArgumentParser
import Foundation
import Glibc
import NIOConcurrencyHelpers
import VBootServer

struct AssetsFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract:
            "Fetch UPSTREAM/PATH files into the cache before any client asks (e.g. for GRUB, which reads over TFTP).",
        discussion:
            "A file already cached and within --cache-max-age is left as it is; an older one is checked with the upstream."
    )

    @Argument(help: "UPSTREAM/PATH, as in /assets/UPSTREAM/PATH.") var files: [String]
    @OptionGroup var cache: CacheOptions

    func run() async throws {
        let maintenance = try cache.maintenance()
        var failures = 0
        for file in files {
            let key = file.hasPrefix("/assets/") ? String(file.dropFirst("/assets/".count)) : file
            let bar = FetchProgress(name: key)
            let outcome = await maintenance.fetch(key) { bar.show($0, $1) }
            bar.finish()
            switch outcome {
            case .alreadyCached(let size): print("\(key): cached, \(AssetsText.size(size))")
            case .fetched(let size): print("\(key): fetched, \(AssetsText.size(size))")
            case .failed(let reason):
                failures += 1
                print("\(key): failed: \(reason)")
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }
}

/// A bar on a terminal (stderr), one line per quarter otherwise.
final class FetchProgress: Sendable {
    private let name: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = NIOLockedValueBox((started: Date(), drawn: false, quarter: 0))
    static let width = 30

    init(name: String) { self.name = name }

    func show(_ bytes: Int, _ total: Int?) {
        state.withLockedValue { state in
            let seconds = max(Date().timeIntervalSince(state.started), 0.001)
            let rate = AssetsText.size(Int(Double(bytes) / seconds)) + "/s"
            if isTerminal {
                var line = "\r\(name) "
                if let total, total > 0 {
                    let filled = min(Self.width, bytes * Self.width / total)
                    line +=
                        "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: Self.width - filled)
                        + "] \(bytes * 100 / total)% \(AssetsText.size(bytes)) of \(AssetsText.size(total))"
                } else {
                    line += AssetsText.size(bytes)
                }
                FileHandle.standardError.write(Data((line + " " + rate + "\u{1B}[K").utf8))
                state.drawn = true
            } else if let total, total > 0, bytes * 4 / total > state.quarter {
                state.quarter = bytes * 4 / total
                FileHandle.standardError.write(
                    Data("\(name): \(AssetsText.size(bytes)) of \(AssetsText.size(total)) (\(rate))\n".utf8))
            }
        }
    }

    func finish() {
        if state.withLockedValue({ $0.drawn }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
