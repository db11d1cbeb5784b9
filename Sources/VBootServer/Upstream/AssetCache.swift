import Crypto
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import UpstreamFetch

/// The pull-through cache of upstream files: `DIR/UPSTREAM/PATH` once published, downloads in
/// progress under `DIR/.partial/`. A file is there only after it arrived whole (and matched its
/// pinned SHA-256); a download cut by a crash leaves only a partial file, removed at the next
/// start. Simultaneous misses for one file share one `CacheFill`.
final class AssetCache: Sendable {
    enum Lookup: Sendable {
        /// Published: serve it like a local asset (sendfile).
        case cached(path: String, size: Int)
        /// On its way (this request may have started it).
        case filling(CacheFill)
        case notAnUpstream
        case badPath
        /// `fillLimit` files are on their way already: a client asking for many different
        /// missing paths cannot make vboot open a transfer (and a thread) for each.
        case busy
    }

    static let partialDirectory = ".partial"
    /// Upstream transfers at once. A classroom boots a handful of files; more distinct misses
    /// than this at the same moment is a scan, not a boot.
    static let defaultFillLimit = 32

    let directory: String
    let fillLimit: Int
    private let upstreams: [String: Upstream]
    private let settings: CacheSettings
    private let fills = NIOLockedValueBox<[String: CacheFill]>([:])
    /// Fills that failed, answered as they ended for `failureMemory`: a file that fails its pin,
    /// or is missing upstream, is not fetched again for every client that asks.
    private let failed = NIOLockedValueBox<[String: (fill: CacheFill, until: ContinuousClock.Instant)]>([:])
    static let failureMemory = Duration.seconds(60)
    static let failureLimit = 4_096
    private let counters: ServerCounters
    private let logger: Logger

    init(
        directory: String, upstreams: [Upstream], settings: CacheSettings, counters: ServerCounters, logger: Logger,
        fillLimit: Int = AssetCache.defaultFillLimit
    ) throws {
        self.directory = directory
        self.fillLimit = fillLimit
        self.upstreams = Dictionary(upstreams.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.settings = settings
        self.counters = counters
        self.logger = logger
        let partial = directory + "/" + Self.partialDirectory
        do {
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        } catch {
            throw StartupError("cache directory \(directory) cannot be created (--cache-dir): \(error)")
        }
        // Left by a crash or kill -9 in the middle of a download: never served, fetched again.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: partial)) ?? []
        for name in leftovers { unlink(partial + "/" + name) }
        if !leftovers.isEmpty { logger.info("cache: removed \(leftovers.count) unfinished download(s) in \(partial)") }
    }

    var isEmpty: Bool { upstreams.isEmpty }

    /// `/assets/UPSTREAM/PATH` as the cache has it, starting a fill on a miss.
    func lookup(_ assetPath: String) -> Lookup {
        guard let slash = assetPath.firstIndex(of: "/"), let upstream = upstreams[String(assetPath[..<slash])] else {
            return .notAnUpstream
        }
        let path = String(assetPath[assetPath.index(after: slash)...])
        guard CachePath.isValid(path) else { return .badPath }
        let key = upstream.name + "/" + path
        let finalPath = directory + "/" + key
        if let recent = failed.withLockedValue({ $0[key] }), ContinuousClock.now < recent.until {
            return .filling(recent.fill)
        }
        return fills.withLockedValue { fills -> Lookup in
            if let fill = fills[key] {
                if fill.join() > 1 { counters.increment(.cacheCoalesced) }
                return .filling(fill)
            }
            var status = stat()
            if stat(finalPath, &status) == 0, status.st_mode & S_IFMT == S_IFREG {
                counters.increment(.cacheHits)
                return .cached(path: finalPath, size: Int(status.st_size))
            }
            guard fills.count < fillLimit else {
                counters.increment(.cacheFillsRefused)
                return .busy
            }
            counters.increment(.cacheMisses)
            let id = SHA256.hash(data: Array(key.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
            let fill = CacheFill(
                key: key, url: upstream.url + "/" + path,
                partialPath: directory + "/" + Self.partialDirectory + "/" + id, finalPath: finalPath,
                expectedSHA256: settings.pins[key])
            _ = fill.join()
            fills[key] = fill
            start(fill)
            return .filling(fill)
        }
    }

    private func start(_ fill: CacheFill) {
        var request = UpstreamTransfer.Request(url: fill.url)
        request.proxy = settings.proxy
        request.caBundle = settings.caBundle
        request.userAgent = "vboot"
        logger.info("cache: \(fill.key): fetching \(fill.url)")
        let thread = Thread { [self, request] in
            fill.run(request, counters: counters, logger: logger)
            if case .failed = fill.snapshot.outcome { remember(failure: fill) }
            // Published or failed: the next request finds the file, or (after a while) tries again.
            fills.withLockedValue { fills in
                if fills[fill.key] === fill { fills[fill.key] = nil }
            }
        }
        thread.name = "vboot-cache-fill"
        thread.start()
    }

    private func remember(failure fill: CacheFill) {
        let now = ContinuousClock.now
        failed.withLockedValue { failed in
            if failed.count >= Self.failureLimit { failed = failed.filter { now < $0.value.until } }
            guard failed.count < Self.failureLimit else { return }
            failed[fill.key] = (fill, now + Self.failureMemory)
        }
    }
}
