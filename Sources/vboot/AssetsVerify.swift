import ArgumentParser
import VBootServer

struct AssetsVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Read every cached file (or the ones named) and compare it with its pin and the SHA-256 it arrived with.",
        discussion:
            "A file that does not match is removed (the next request fetches it again); the exit status is 1 then."
    )

    @Argument(help: "UPSTREAM/PATH files to check (default: all).") var files: [String] = []
    @OptionGroup var cache: CacheOptions

    func run() async throws {
        let maintenance = try cache.maintenance()
        let wanted = Set(files)
        let items = maintenance.list().filter { wanted.isEmpty || wanted.contains($0.key) }
        let missing = wanted.subtracting(items.map(\.key))
        var corrupt = 0
        for key in missing.sorted() { print("\(key): not cached") }
        for item in items {
            switch maintenance.verify(item) {
            case .intact: print("\(item.key): ok")
            case .unrecorded: print("\(item.key): ok as far as known (no record of its SHA-256 and no pin)")
            case .corrupt(let reason):
                corrupt += 1
                print("\(item.key): CORRUPT: \(reason); removed")
            }
        }
        print("\(items.count) checked, \(corrupt) corrupt")
        if corrupt > 0 || !missing.isEmpty { throw ExitCode.failure }
    }
}
