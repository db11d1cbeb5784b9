import BootPolicy
import Crypto
import Foundation
import Glibc
import Logging

/// `vboot assets`: the cache as the server keeps it, worked on from the command line with the
/// server's configuration. Fetches go through the same `AssetCache` (pins, records, the size
/// bound); files are written under another process id, so a running server is not disturbed.
public struct CacheMaintenance: Sendable {
    public let layout: CacheLayout
    let settings: CacheSettings
    let upstreams: [Upstream]
    let declared: [String: [Profile.UpstreamDeclaration]]

    public init(configuration: ServerConfiguration) {
        layout = CacheLayout(directory: configuration.cacheDirectory)
        settings = configuration.cache
        upstreams = configuration.upstreams
        declared = ProfileLibrary(directory: configuration.bootScriptsDirectory + "/profiles").declaredUpstreams()
    }

    /// Every upstream by name: configured ones, then those only the profiles declare.
    public var knownUpstreams: [String: String] {
        var known: [String: String] = [:]
        for (name, declarations) in declared {
            known[name] = declarations.count == 1 ? declarations[0].url : "(declared \(declarations.count) ways)"
        }
        for upstream in upstreams { known[upstream.name] = upstream.url }
        return known
    }

    public struct Item: Sendable {
        public var key: String
        public var size: Int
        public var lastUsed: Date
        public var record: CacheRecord?
        public var pin: String?
    }

    public func list() -> [Item] {
        layout.published().sorted { $0.key < $1.key }.map { entry in
            let record = layout.record(entry.key).flatMap { $0.size == entry.size ? $0 : nil }
            return Item(
                key: entry.key, size: entry.size, lastUsed: entry.lastUsed, record: record,
                pin: settings.pins[entry.key])
        }
    }

    public enum Verdict: Sendable, Equatable {
        case intact
        /// No record of what it should be (fetched before records, or the record was lost).
        case unrecorded
        /// Its bytes are not what arrived (or not the pin); removed, fetched again on next use.
        case corrupt(String)
    }

    /// Reads every byte of `key` and compares with its record and its pin; a corrupt file is removed.
    public func verify(_ item: Item) -> Verdict {
        guard let digest = FileDigest.sha256(ofFile: layout.dataPath(item.key)) else {
            return .corrupt("cannot be read")
        }
        var problem: String?
        if let pin = item.pin, digest != pin {
            problem = "SHA-256 \(digest) is not the pinned \(pin)"
        } else if let record = item.record, digest != record.sha256 {
            problem = "SHA-256 \(digest) is not the \(record.sha256) it arrived with"
        }
        if let problem {
            layout.remove(item.key)
            return .corrupt(problem)
        }
        return item.record == nil && item.pin == nil ? .unrecorded : .intact
    }

    /// What `prune` removes and why.
    public struct Removal: Sendable {
        public var key: String
        public var size: Int
        public var reason: String
    }

    /// `keys` (or all), files unused for `unusedFor`, with `orphans` files of upstreams nobody
    /// names any more, then least recently used ones past `--cache-max-size`; downloads left by
    /// dead processes.
    public func prune(
        keys: Set<String>, all: Bool, unusedFor: Duration?, orphans: Bool, dryRun: Bool, now: Date = Date()
    )
        -> (removed: [Removal], partials: Int)
    {
        let known = knownUpstreams
        var removed: [Removal] = []
        var kept: [CacheLayout.Entry] = []
        let unusedLimit = unusedFor.map { Double($0.components.seconds) }
        for entry in layout.published() {
            let upstream = String(entry.key.prefix { $0 != "/" })
            var reason: String?
            if all || keys.contains(entry.key) {
                reason = "asked for"
            } else if orphans, known[upstream] == nil {
                reason = "upstream \(upstream) is neither configured nor declared by a profile"
            } else if let unusedLimit, now.timeIntervalSince(entry.lastUsed) > unusedLimit {
                reason = "unused since \(Self.timestamp(entry.lastUsed))"
            }
            if let reason {
                removed.append(Removal(key: entry.key, size: entry.size, reason: reason))
            } else {
                kept.append(entry)
            }
        }
        if let limit = settings.maxSize {
            var index = CacheIndex(kept)
            for victim in index.evict(toFit: limit, keeping: []) {
                removed.append(
                    Removal(
                        key: victim.key, size: victim.entry.size,
                        reason: "least recently used past --cache-max-size \(CacheSize.describe(limit))"))
            }
        }
        let partials = layout.abandonedPartials()
        if !dryRun {
            for removal in removed { layout.remove(removal.key) }
            for path in partials { unlink(path) }
            removeEmptyDirectories()
        }
        return (removed, partials.count)
    }

    /// Directories a pruned file left empty (the tree under an upstream and under `.meta`).
    private func removeEmptyDirectories() {
        guard let walker = FileManager.default.enumerator(atPath: layout.directory) else { return }
        var directories: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative == CacheLayout.partialDirectory { walker.skipDescendants() }
            var status = stat()
            let path = layout.directory + "/" + relative
            if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, relative != CacheLayout.partialDirectory {
                directories.append(path)
            }
        }
        // Deepest first; rmdir refuses a directory that still holds something.
        for path in directories.sorted(by: { $0.count > $1.count }) { rmdir(path) }
    }

    public enum FetchOutcome: Sendable, Equatable {
        case alreadyCached(size: Int)
        case fetched(size: Int)
        case failed(String)
    }

    /// Fetches `UPSTREAM/PATH` into the cache (or asks the upstream about a copy past its max
    /// age), calling `progress` with (bytes so far, total when known) about ten times a second.
    public func fetch(_ key: String, progress: @Sendable (Int, Int?) -> Void) async -> FetchOutcome {
        let logger = Logger(label: "vboot-assets", factory: { _ in SwiftLogNoOpLogHandler() })
        let cache: AssetCache
        do {
            cache = try AssetCache(
                directory: layout.directory, upstreams: upstreams, settings: settings, counters: ServerCounters(),
                logger: logger, declared: { [declared] in declared }, evictAtStart: false)
        } catch {
            return .failed("\(error)")
        }
        switch cache.lookup(key) {
        case .cached(_, let size): return .alreadyCached(size: size)
        case .unavailable(let reason): return .failed(reason)
        case .notAnUpstream:
            return .failed(
                "\(key.prefix { $0 != "/" }) is not an upstream (configure it with --upstream NAME=URL or a profile's #: upstream line)"
            )
        case .badPath: return .failed("\(key) is not UPSTREAM/PATH with a path vboot fetches")
        case .busy: return .failed("too many fetches at once")
        case .filling(let fill):
            while true {
                let snapshot = fill.snapshot
                progress(snapshot.available, snapshot.total)
                switch snapshot.outcome {
                case .published?:
                    let size = AssetCache.publishedFile(fill.finalPath)?.size ?? snapshot.available
                    return fill.hasCopy && snapshot.available == 0 ? .alreadyCached(size: size) : .fetched(size: size)
                case .failed(let reason, _)?:
                    let stays = fill.hasCopy && AssetCache.publishedFile(fill.finalPath) != nil
                    return .failed(stays ? "\(reason) (the cached copy stays)" : reason)
                case nil:
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date)
    }
}
