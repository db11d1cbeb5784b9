import BootPolicy
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
        /// On its way (this request may have started it), or being asked about upstream.
        case filling(CacheFill)
        /// Not cached and not fetched: offline, or the upstream is declared twice. The reason goes
        /// to the client (502) and the log.
        case unavailable(String)
        case notAnUpstream
        case badPath
        /// `fillLimit` files are on their way already: a client asking for many different
        /// missing paths cannot make vboot open a transfer (and a thread) for each.
        case busy
    }

    /// Upstream transfers at once. A classroom boots a handful of files and an installer fetches
    /// its packages a few at a time (dnf 3 to 10, apk one); more distinct misses than this at the
    /// same moment is a scan, not an install.
    static let defaultFillLimit = 64
    /// Of those, the most one client address may have started and still running
    /// (`--cache-fills-per-client`): a host on the LAN (no credentials) cannot take every transfer
    /// and lock the others out. Joining a transfer another client started does not count.
    var fillsPerClient: Int { min(settings.fillsPerClient, fillLimit) }

    let layout: CacheLayout
    var directory: String { layout.directory }
    let fillLimit: Int
    private let upstreams: [String: Upstream]
    /// Upstreams the profiles declare (`#: upstream NAME = URL`), asked for a name `--upstream`
    /// does not configure: name → the distinct declarations of it.
    private let declared: @Sendable () -> [String: [Profile.UpstreamDeclaration]]
    private let settings: CacheSettings
    private let fills = NIOLockedValueBox<[String: CacheFill]>([:])
    private let index: NIOLockedValueBox<CacheIndex>
    /// Fills that failed, answered as they ended for `failureMemory`: a file that fails its pin,
    /// or is missing upstream, is not fetched again for every client that asks.
    private let failed = NIOLockedValueBox<[String: (fill: CacheFill, until: ContinuousClock.Instant)]>([:])
    static let failureMemory = Duration.seconds(60)
    static let refusalMemory = Duration.seconds(600)
    static let failureLimit = 4_096
    private let counters: ServerCounters
    private let logger: Logger

    init(
        directory: String, upstreams: [Upstream], settings: CacheSettings, counters: ServerCounters, logger: Logger,
        declared: @escaping @Sendable () -> [String: [Profile.UpstreamDeclaration]] = { [:] },
        fillLimit: Int = AssetCache.defaultFillLimit, evictAtStart: Bool = true
    ) throws {
        layout = CacheLayout(directory: directory)
        self.fillLimit = fillLimit
        self.upstreams = Dictionary(upstreams.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        var template = UpstreamTransfer.Request(url: "")
        template.proxy = settings.proxy
        template.caBundle = settings.caBundle
        template.userAgent = Self.userAgent
        self.template = template
        checksumLists = ChecksumListStore(template: template)
        self.declared = declared
        self.settings = settings
        self.counters = counters
        self.logger = logger
        if !upstreams.isEmpty {
            // Configured: a directory that cannot be made stops the start. Only profiles'
            // upstreams: it is made on the first download.
            do {
                try FileManager.default.createDirectory(atPath: layout.partialPath, withIntermediateDirectories: true)
            } catch {
                throw StartupError("cache directory \(directory) cannot be created (--cache-dir): \(error)")
            }
        }
        // Left by a crash or kill -9 in the middle of a download: never served, fetched again.
        let leftovers = layout.abandonedPartials()
        for path in leftovers { unlink(path) }
        if !leftovers.isEmpty {
            logger.info("cache: removed \(leftovers.count) unfinished download(s) in \(layout.partialPath)")
        }
        let found = CacheIndex(layout.published())
        index = NIOLockedValueBox(found)
        if !found.entries.isEmpty {
            logger.info("cache: \(found.entries.count) file(s), \(CacheSize.describe(found.total)) in \(directory)")
        }
        if evictAtStart { evict(keeping: []) }
        warnAboutNames(declared())
    }

    /// What the configuration says that the profiles contradict, or that names nothing.
    private func warnAboutNames(_ declared: [String: [Profile.UpstreamDeclaration]]) {
        for (name, configured) in upstreams.sorted(by: { $0.key < $1.key }) {
            guard let declarations = declared[name], declarations.contains(where: { $0.url != configured.url }) else {
                continue
            }
            logger.warning(
                "cache: --upstream \(name)=\(configured.url) replaces what the profiles declare for \(name) (\(declarations.map(\.url).joined(separator: ", "))), their checksum list too: the profiles' paths under /assets/\(name)/ must exist there"
            )
        }
        for name in settings.checksumLists.keys.sorted() where upstreams[name] == nil && declared[name] == nil {
            logger.warning(
                "cache: --cache-checksums \(name): no upstream \(name) is configured or declared by a profile, so nothing is checked against that list"
            )
        }
    }

    /// The upstream a name stands for: configured, else declared by exactly one URL in the profiles.
    private enum Resolved {
        case upstream(Upstream)
        case conflict(String)
    }

    /// A profile's checksum list goes with its URL: `--upstream NAME=URL` elsewhere takes only
    /// `--cache-checksums NAME=LIST`, which wins over any profile's.
    private func upstream(named name: String) -> Resolved? {
        if var configured = upstreams[name] {
            // The profile's list still holds when the configuration names the same URL.
            configured.checksums =
                settings.checksumLists[name]
                ?? declaredUpstreams()[name]?.first { $0.url == configured.url && $0.checksums != nil }?.checksums
            return .upstream(configured)
        }
        guard Upstream.isValidName(name), let declarations = declaredUpstreams()[name] else { return nil }
        guard declarations.count == 1, var upstream = Upstream(name + "=" + declarations[0].url) else {
            let described = declarations.map { $0.url + ($0.checksums.map { " (checksums \($0))" } ?? "") }
            return .conflict(
                "upstream \(name) is declared differently by the profiles (\(described.joined(separator: ", "))); choose one with --upstream \(name)=URL (and --cache-checksums \(name)=LIST)"
            )
        }
        upstream.checksums = settings.checksumLists[name] ?? declarations[0].checksums
        return .upstream(upstream)
    }

    /// The profiles' upstreams, read again at most every `declaredRefresh`: a client asking for
    /// `/assets/x/y` over and over does not make vboot list and read the profiles each time.
    private func declaredUpstreams() -> [String: [Profile.UpstreamDeclaration]] {
        let now = ContinuousClock.now
        if let known = declaredCache.withLockedValue({ $0 }), now < known.until { return known.upstreams }
        let upstreams = declared()
        declaredCache.withLockedValue { $0 = (upstreams, now + Self.declaredRefresh) }
        return upstreams
    }

    static let declaredRefresh = Duration.seconds(2)
    private let declaredCache = NIOLockedValueBox<
        (upstreams: [String: [Profile.UpstreamDeclaration]], until: ContinuousClock.Instant)?
    >(nil)
    /// Proxy, CA bundle and user agent of every upstream transfer.
    private let template: UpstreamTransfer.Request
    static let userAgent = "vboot"
    private let checksumLists: ChecksumListStore

    /// `/assets/UPSTREAM/PATH` as the cache has it, starting a fill on a miss or to revalidate.
    /// `client`: the address asking (nil: `vboot assets`, not bounded per client).
    func lookup(_ assetPath: String, client: String? = nil) -> Lookup {
        guard let slash = assetPath.firstIndex(of: "/") else { return .notAnUpstream }
        let upstream: Upstream
        switch self.upstream(named: String(assetPath[..<slash])) {
        case nil: return .notAnUpstream
        case .conflict(let reason)?: return .unavailable(reason)
        case .upstream(let found)?: upstream = found
        }
        let path = String(assetPath[assetPath.index(after: slash)...])
        guard CachePath.isValid(path) else { return .badPath }
        let key = upstream.name + "/" + path
        if let recent = failed.withLockedValue({ $0[key] }), ContinuousClock.now < recent.until {
            return .filling(recent.fill)
        }
        let pin = settings.pins[key]
        // A pin names the file's content itself; a list only where no pin does.
        let check =
            pin.map(CacheFill.Check.pinned)
            ?? upstream.checksums.map { CacheFill.Check.listed($0, checksumLists) }
        return fills.withLockedValue { fills -> Lookup in
            // A fill that has published is done with: the file (and its record) decide, so a copy
            // past its max age is asked about even if its fill's thread has not left the table yet.
            if let fill = fills[key], fill.snapshot.outcome != .published {
                if fill.join() > 1 { counters.increment(.cacheCoalesced) }
                return .filling(fill)
            }
            var previous: CacheRecord?
            var hasCopy = false
            var refetching: String?
            if let file = Self.publishedFile(layout.dataPath(key)) {
                let size = file.size
                let record = self.record(key, file: file)
                switch CacheFreshness.decide(
                    record: record, pin: pin,
                    maxAge: CacheFreshness.maxAge(of: upstream.url + "/" + path, configured: settings.maxAge),
                    mode: settings.mode, list: pin == nil ? upstream.checksums : nil, now: Date())
                {
                case .serve:
                    counters.increment(.cacheHits)
                    return .cached(path: layout.dataPath(key), size: size)
                case .revalidate:
                    counters.increment(.cacheRevalidations)
                    previous = record
                    hasCopy = true
                case .refetch(let reason):
                    refetching = reason
                }
            }
            if settings.mode == .offline {
                counters.increment(.cacheOfflineMisses)
                return .unavailable(
                    "\(key): \(refetching ?? "not cached"), and the cache is offline (--cache-mode offline)")
            }
            if let refetching { logger.info("cache: \(key): \(refetching); fetching it again") }
            guard fills.count < fillLimit,
                client.map({ client in fills.values.count { $0.client == client } < fillsPerClient }) ?? true
            else {
                counters.increment(.cacheFillsRefused)
                // Too busy to ask the upstream about it: the copy as it is beats a 503, if its
                // list vouched for it (else any LAN host could make vboot serve it unchecked).
                guard hasCopy, CacheFreshness.vouched(previous, list: pin == nil ? upstream.checksums : nil),
                    let file = Self.publishedFile(layout.dataPath(key))
                else { return .busy }
                counters.increment(.cacheStaleServed)
                logger.warning("cache: \(key): too many transfers to ask whether it changed; the cached copy is served")
                return .cached(path: layout.dataPath(key), size: file.size)
            }
            if !hasCopy { counters.increment(.cacheMisses) }
            let fill = CacheFill(
                key: key, url: upstream.url + "/" + path, layout: layout, check: check, client: client,
                previous: previous,
                hasCopy: hasCopy)
            _ = fill.join()
            fills[key] = fill
            start(fill)
            return .filling(fill)
        }
    }

    /// A published copy as it is, for TFTP, whose clients cannot wait for a download or a
    /// revalidation; counted as a use (LRU order) and a hit. nil for anything but a cached file
    /// (`.partial` and `.meta` included), for a copy a changed pin disowns, and (online) for one
    /// the upstream's checksum list has not vouched for: its next HTTP request checks it.
    func published(_ key: String) -> (path: String, size: Int)? {
        guard CachePath.isValidKey(key), let slash = key.firstIndex(of: "/") else { return nil }
        let path = layout.dataPath(key)
        // As over HTTP: a name no upstream has, or one the profiles declare differently, is not served.
        guard let file = Self.publishedFile(path),
            case .upstream(let upstream)? = upstream(named: String(key[..<slash]))
        else { return nil }
        let record = record(key, file: file)
        if let pin = settings.pins[key] {
            guard record?.sha256 == pin else { return nil }
        } else if settings.mode == .online, !CacheFreshness.vouched(record, list: upstream.checksums) {
            return nil
        }
        counters.increment(.cacheHits)
        return (path, file.size)
    }

    /// The record of a published file (read once, then kept with the index), counting the use.
    private func record(_ key: String, file: FileIdentity) -> CacheRecord? {
        let now = Date()
        let (touch, known) = index.withLockedValue { index in
            (index.use(key, size: file.size, at: now), index[key])
        }
        if touch { layout.touch(key) }
        if let known, let record = known.record, known.recordFile == file.content { return record }
        let record = layout.record(key).flatMap { $0.size == file.size ? $0 : nil }
        index.withLockedValue { index in
            // Not over a record a fill has just put there for this very file (read after ours).
            if var entry = index[key], entry.record == nil || entry.recordFile != file.content {
                entry.record = record
                entry.recordFile = file.content
                index.set(key, entry)
            }
        }
        return record
    }

    /// A published file's identity; nil when there is none (or it is not a regular file).
    static func publishedFile(_ path: String) -> FileIdentity? {
        guard let file = FileIdentity(path: path), file.isRegularFile else { return nil }
        return file
    }

    private func start(_ fill: CacheFill) {
        var request = template
        request.url = fill.url
        logger.info("cache: \(fill.key): \(fill.hasCopy ? "asking whether it changed:" : "fetching") \(fill.url)")
        let thread = Thread { [self, request] in
            fill.run(request, counters: counters, logger: logger)
            switch fill.snapshot.outcome {
            case .failed?:
                remember(failure: fill)
                // A copy the 304's list check removed (or one gone meanwhile) leaves the bound's count.
                if Self.publishedFile(fill.finalPath) == nil { index.withLockedValue { $0.set(fill.key, nil) } }
            case .published?: published(fill)
            case nil: break
            }
            // Published or failed: the next request finds the file, or (after a while) tries again.
            fills.withLockedValue { fills in
                if fills[fill.key] === fill { fills[fill.key] = nil }
            }
        }
        thread.name = "vboot-cache-fill"
        thread.start()
    }

    private func published(_ fill: CacheFill) {
        guard let file = Self.publishedFile(fill.finalPath) else { return }
        // The fill's own record even if it could not be written: a record kept only in memory
        // still spares the next requests a conditional GET each.
        let record = fill.record ?? layout.record(fill.key)
        index.withLockedValue { index in
            index.set(
                fill.key,
                CacheIndex.Entry(size: file.size, lastUsed: Date(), record: record, recordFile: file.content))
        }
        evict(keeping: [fill.key])
    }

    /// Keeps the cache under `--cache-max-size`: least recently used first, never a file on
    /// its way (its clients read the partial file) or `keeping`.
    private func evict(keeping: Set<String>) {
        guard let limit = settings.maxSize else { return }
        // Chosen and removed under `fills` (then `index`, the order `lookup` takes them): no fill,
        // a revalidation included, can start for a file between its choice and its removal.
        let victims = fills.withLockedValue { fills in
            let chosen = index.withLockedValue { $0.evict(toFit: limit, keeping: keeping.union(fills.keys)) }
            // A client already sending one keeps its open file; the next one fetches it again.
            for victim in chosen { layout.remove(victim.key) }
            return chosen
        }
        for victim in victims {
            counters.increment(.cacheEvictions)
            logger.info(
                "cache: \(victim.key): removed (\(CacheSize.describe(victim.entry.size)), least recently used) to stay under --cache-max-size \(CacheSize.describe(limit))"
            )
        }
        let total = index.withLockedValue { $0.total }
        if total > limit {
            logger.warning(
                "cache: \(CacheSize.describe(total)) kept, more than --cache-max-size \(CacheSize.describe(limit)): the files on their way or just published are larger than the bound"
            )
        }
    }

    private func remember(failure fill: CacheFill) {
        let now = ContinuousClock.now
        failed.withLockedValue { failed in
            if failed.count >= Self.failureLimit { failed = failed.filter { now < $0.value.until } }
            guard failed.count < Self.failureLimit else { return }
            // A refused file is what the mirror serves now: asking again in a minute would fetch
            // the same (perhaps large) file to refuse it again.
            failed[fill.key] = (fill, now + (fill.snapshot.refused ? Self.refusalMemory : Self.failureMemory))
        }
    }
}

/// Whether a published copy is served as it is: the one decision `--cache-max-age`, `--cache-mode`
/// and `--cache-sha256` make together.
enum CacheFreshness: Equatable {
    case serve
    /// Ask the upstream (conditional GET); serve the copy if it cannot answer.
    case revalidate
    /// The copy is not what the configuration wants (a pin that changed): fetch it again.
    case refetch(String)

    /// A repository's index (`repomd.xml`, `.treeinfo`, `APKINDEX.tar.gz`, `InRelease`, ...) and
    /// Debian's `current` installer images change in place, and a stale one points clients at
    /// files the mirror no longer has (or a kernel at modules of another): they are asked about
    /// after `indexMaxAge` at most. `never` stays never.
    static func maxAge(of url: String, configured: Duration?) -> Duration? {
        guard let configured else { return nil }
        let name = url.split(separator: "/").last.map(String.init) ?? ""
        // Fedora's list is `Fedora-Everything-41-1.4-x86_64-CHECKSUM`.
        let isIndex = indexNames.contains(name) || name.hasSuffix("CHECKSUM") || url.contains("/current/")
        return isIndex ? min(configured, indexMaxAge) : configured
    }

    static let indexMaxAge = Duration.seconds(60)
    static let indexNames: Set<String> = [
        "repomd.xml", ".treeinfo", "treeinfo", "APKINDEX.tar.gz", "Release", "InRelease", "Release.gpg",
        "Packages", "Packages.gz", "Packages.xz", "SHA256SUMS",
    ]

    /// Whether a copy may be served unasked as far as its upstream's checksum list goes: there is
    /// none, or the copy was checked against that very list.
    static func vouched(_ record: CacheRecord?, list: String?) -> Bool {
        list == nil || record?.checkedAgainst == list
    }

    /// `list`: the checksum list the upstream's files must match (a copy not checked against it
    /// is asked about, and checked, at once).
    static func decide(
        record: CacheRecord?, pin: String?, maxAge: Duration?, mode: CacheMode, list: String? = nil, now: Date
    ) -> CacheFreshness {
        if let pin {
            // A pin names the content: it never goes stale, but a new pin wants the new file.
            guard let record else {
                return .refetch("the cached copy has no record of its SHA-256 to compare with the pin")
            }
            if record.sha256 == pin { return .serve }
            return .refetch("the cached copy's SHA-256 \(record.sha256) is not the pinned \(pin)")
        }
        guard mode == .online else { return .serve }
        // No record: asked about (which writes one), unless nothing would ask (`never`, no list).
        guard let record else { return maxAge == nil && list == nil ? .serve : .revalidate }
        if !vouched(record, list: list) { return .revalidate }
        guard let maxAge else { return .serve }
        let age = now.timeIntervalSince(record.validated)
        let limit = Double(maxAge.components.seconds) + Double(maxAge.components.attoseconds) / 1e18
        return age >= limit || age < 0 ? .revalidate : .serve
    }
}
