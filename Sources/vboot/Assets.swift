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
            server's --config (or the same flags). Started as root, it works as the owner of the cache \
            directory, so the files it writes stay the server's.
            """,
        subcommands: [AssetsFetch.self, AssetsList.self, AssetsVerify.self, AssetsPrune.self]
    )
}

/// The settings `vboot serve` reads that say where the cache is and what it fetches.
struct CacheOptions: ParsableArguments {
    @Option(help: "The server's YAML config file; flags win over it.") var config: String?
    @Option(.dataDir) var dataDir: String?
    @Option(.bootScripts) var bootScripts: String?
    @Option(.upstreams) var upstream: [String] = []
    @Option(.cacheDir) var cacheDir: String?
    @Option(.cacheProxy) var cacheProxy: String?
    @Option(.cacheCABundle) var cacheCaBundle: String?
    @Option(.cacheSHA256) var cacheSha256: [String] = []
    @Option(.cacheMaxSize) var cacheMaxSize: String?
    @Option(.cacheMaxAge) var cacheMaxAge: String?
    @Option(.cacheMode) var cacheMode: CacheMode?

    private func one(_ value: String?) -> [String] { value.map { [$0] } ?? [] }

    func maintenance() throws -> CacheMaintenance {
        let file: ConfigFile?
        do {
            file = try config.map { try ConfigFile.load(path: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
        var flags = SettingValues()
        let given: [(SettingKey, [String])] = [
            (.dataDir, one(dataDir)), (.bootScripts, one(bootScripts)), (.upstreams, upstream),
            (.cacheDir, one(cacheDir)), (.cacheProxy, one(cacheProxy)), (.cacheCABundle, one(cacheCaBundle)),
            (.cacheSHA256, cacheSha256), (.cacheMaxSize, one(cacheMaxSize)), (.cacheMaxAge, one(cacheMaxAge)),
            (.cacheMode, one(cacheMode?.rawValue)),
        ]
        for (key, texts) in given {
            do { try flags.set(key, texts) } catch { throw ValidationError("--\(key.setting.flag): \(error)") }
        }
        let configuration: ServerConfiguration
        do {
            configuration = try .merged(base: Serve.baseConfiguration(), file: file, flags: flags)
        } catch {
            throw ValidationError("\(error)")
        }
        let maintenance = CacheMaintenance(configuration: configuration)
        try Self.becomeOwner(of: maintenance.layout.directory)
        return maintenance
    }

    /// Root works as the owner of the cache directory (or of the nearest directory above it that
    /// exists): what it writes must stay readable and removable by the server's unprivileged user.
    static func becomeOwner(of directory: String) throws {
        guard geteuid() == 0 else { return }
        var path = directory
        var status = stat()
        while stat(path, &status) != 0 {
            let parent = (path as NSString).deletingLastPathComponent
            guard parent != path, !parent.isEmpty else { return }
            path = parent
        }
        guard status.st_uid != 0 else { return }
        guard setgroups(0, nil) == 0, setegid(status.st_gid) == 0, seteuid(status.st_uid) == 0 else {
            throw ValidationError(
                "cannot work as the owner of \(path) (uid \(status.st_uid)): \(String(cString: strerror(errno)))")
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
