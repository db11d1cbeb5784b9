import ArgumentParser
import Foundation
import Glibc
import VBootServer

/// `vboot assets`: the upstream asset cache on this machine, with the server's configuration.
struct Assets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch, list, verify and prune the upstream asset cache (the files /assets/UPSTREAM/PATH serves).",
        discussion: """
            Works on the cache directory directly, next to a running server or without one; give it the \
            server's --config (or the same flags). Started as root, it becomes the server's user (--user, \
            else vboot), so the files it writes stay the server's.
            """,
        subcommands: [AssetsFetch.self, AssetsList.self, AssetsVerify.self, AssetsPrune.self]
    )
}

/// The settings `vboot serve` reads that say where the cache is and what it fetches.
struct CacheOptions: ParsableArguments {
    @Option(help: "The server's YAML config file; flags win over it.") var config: String?
    @Option(.dataDir) var dataDir: String?
    @Option(.bootScripts) var bootScripts: String?
    @OptionGroup var cache: CacheFlags
    @Option(.user) var user: String?

    private func one(_ value: String?) -> [String] { value.map { [$0] } ?? [] }

    func maintenance() throws -> CacheMaintenance {
        let file: ConfigFile?
        do {
            file = try config.map { try ConfigFile.load(path: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        var flags = SettingValues()
        let given: [(SettingKey, [String])] =
            [
                (.dataDir, one(dataDir)), (.bootScripts, one(bootScripts)), (.user, one(user)),
            ] + cache.given
        for (key, texts) in given {
            do { try flags.set(key, texts) } catch { throw ValidationError("--\(key.setting.flag): \(error)") }
        }
        let configuration: ServerConfiguration
        do {
            configuration = try .merged(base: Serve.baseConfiguration(), file: file, flags: flags)
        } catch {
            throw ValidationError("\(error)")
        }
        try Self.becomeServiceAccount(configuration)
        return CacheMaintenance(configuration: configuration)
    }

    /// Root becomes the account the server runs as (`--user`, else `vboot`) for good, as `serve`
    /// does: libcurl reads the network as that user, and what it writes stays the server's.
    static func becomeServiceAccount(_ configuration: ServerConfiguration) throws {
        guard geteuid() == 0 else { return }
        let name = configuration.user ?? ServiceAccount.defaultName
        guard name != "root" else { return }
        guard let account = ServiceAccount.lookup(name), account.uid != 0 else {
            throw ValidationError(
                "started as root, vboot assets works as the server's user, and there is no user \(name): create it (see vboot serve --help) or name it with --user"
            )
        }
        let groups = account.groups
        // Group first: once the uid is not 0, the gid can no longer be changed.
        guard setgroups(groups.count, groups) == 0, setgid(account.gid) == 0, setuid(account.uid) == 0 else {
            throw ValidationError("cannot become \(account): \(String(cString: strerror(errno)))")
        }
    }
}

enum AssetsText {
    static func size(_ bytes: Int) -> String { CacheSize.describe(bytes) }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
