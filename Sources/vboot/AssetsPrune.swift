import ArgumentParser
import VBootServer

struct AssetsPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract:
            "Remove cached files: the ones given, unused for a while, of upstreams no longer named, past --cache-max-size.",
        discussion:
            "Unfinished downloads of processes that are gone are removed too. A client being sent a removed file keeps its copy."
    )

    @Argument(help: "UPSTREAM/PATH files to remove.") var files: [String] = []
    @Option(help: "Also remove files not used for this long (e.g. 30d).") var unusedFor: String?
    @Flag(help: "Remove every cached file.") var all = false
    @Flag(
        help:
            "Also remove the files of upstreams neither configured (give the server's --config) nor declared by a profile."
    )
    var orphans = false
    @Flag(help: "Show what would be removed.") var dryRun = false
    @OptionGroup var cache: CacheOptions

    func run() async throws {
        var unused: Duration?
        if let unusedFor {
            guard let age = CacheAge.parse(unusedFor), let age else {
                throw ValidationError("--unused-for: \"\(unusedFor)\" is not an age such as 12h or 30d")
            }
            unused = age
        }
        let maintenance = try cache.maintenance()
        let result = maintenance.prune(keys: Set(files), all: all, unusedFor: unused, orphans: orphans, dryRun: dryRun)
        let verb = dryRun ? "would remove" : "removed"
        for removal in result.removed {
            print("\(removal.key): \(verb) (\(AssetsText.size(removal.size)); \(removal.reason))")
        }
        let bytes = result.removed.reduce(0) { $0 + $1.size }
        print(
            "\(verb) \(result.removed.count) file(s), \(AssetsText.size(bytes)); \(result.partials) unfinished download(s)"
        )
    }
}
