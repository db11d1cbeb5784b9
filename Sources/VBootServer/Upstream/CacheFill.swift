import Crypto
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import UpstreamFetch

/// One upstream file on its way into the cache: a libcurl transfer on a thread of its own writes
/// `.partial/<id>`, every client that asked for the file reads it as it grows, and at the end
/// the file is published (size and SHA-256 checked, renamed into place) or thrown away. However
/// many clients ask, there is one transfer.
final class CacheFill: Sendable {
    enum Outcome: Sendable, Equatable {
        case published
        /// `status`: the upstream's own answer when it had one (404 stays 404), else nil (502).
        case failed(reason: String, status: Int?)
    }

    struct Snapshot: Sendable {
        /// The body's length when the upstream said it.
        var total: Int?
        /// Bytes in the partial file.
        var available: Int
        var outcome: Outcome?
        /// The response headers have arrived (a 200), or the fill has ended.
        var started: Bool
        /// Failed because the file is not the one its pin or checksum list names (the upstream
        /// answered): remembered longer, and the old copy is served only if it was vouched for.
        /// Not for a list that could not be read, nor a short body.
        var refused = false
        /// The record the fill made (published or confirmed by a 304), even if it could not be
        /// written beside the file.
        var record: CacheRecord?

        /// What a reader may send: everything once published; before that all but the last
        /// byte, so no client ever holds a whole file that failed its checksum.
        var readable: Int { outcome == .published ? available : max(0, available - 1) }
    }

    let key: String
    let url: String
    let partialPath: String
    let finalPath: String
    /// The published copy this fill asks the upstream about (`--cache-max-age` passed): a 304
    /// keeps it, a 200 replaces it, a failure leaves it served.
    let previous: CacheRecord?
    /// A published copy exists (with or without a record): served when this fill fails.
    let hasCopy: Bool
    /// The address whose request started it (`AssetCache.fillsPerClient`).
    let client: String?
    private let layout: CacheLayout
    private let state = NIOLockedValueBox(State())
    private let check: Check?

    /// What the arrived file's SHA-256 must be before it is published.
    enum Check: Sendable {
        /// `--cache-sha256`: this digest.
        case pinned(String)
        /// The upstream's checksum list (its URL) names the file with its digest.
        case listed(String, ChecksumListStore)
    }

    private struct State {
        var snapshot = Snapshot(total: nil, available: 0, outcome: nil, started: false)
        var waiters: [Int: CheckedContinuation<Snapshot, Never>] = [:]
        var nextWaiter = 0
        var readers = 0
    }

    init(
        key: String, url: String, layout: CacheLayout, check: Check?, client: String? = nil,
        previous: CacheRecord? = nil,
        hasCopy: Bool = false
    ) {
        self.hasCopy = hasCopy || previous != nil
        self.key = key
        self.url = url
        self.layout = layout
        self.partialPath = layout.partialPath(for: key)
        self.finalPath = layout.dataPath(key)
        self.check = check
        self.client = client
        self.previous = previous
    }

    var snapshot: Snapshot { state.withLockedValue { $0.snapshot } }
    var record: CacheRecord? { snapshot.record }

    /// The list this fill's file is checked against, if any.
    private var listURL: String? {
        if case .listed(let list, _)? = check { return list }
        return nil
    }

    /// The copy this fill asks about passed the checks in force now (its pin, or the current
    /// checksum list): it may stand in when a new file is refused.
    var copyVouchedFor: Bool {
        guard let previous else { return false }
        switch check {
        case nil: return true
        case .pinned(let pin)?: return previous.sha256 == pin
        case .listed(let list, _)?: return previous.checkedAgainst == list
        }
    }

    /// Counts the clients served from this fill (the first is the miss, the rest coalesced).
    func join() -> Int {
        state.withLockedValue {
            $0.readers += 1; return $0.readers
        }
    }

    /// Returns as soon as `ready` holds for the fill's state, or it has ended.
    func wait(until ready: @escaping @Sendable (Snapshot) -> Bool) async -> Snapshot {
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state -> Snapshot? in
                if ready(state.snapshot) || state.snapshot.outcome != nil { return state.snapshot }
                let id = state.nextWaiter
                state.nextWaiter += 1
                // Woken on every change; a waiter that is not ready yet waits again.
                state.waiters[id] = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Waits for more than `offset` readable bytes (or the end).
    func wait(beyond offset: Int) async -> Snapshot {
        var snapshot = snapshot
        while snapshot.readable <= offset, snapshot.outcome == nil {
            snapshot = await wait { $0.readable > offset }
        }
        return snapshot
    }

    private func update(_ change: (inout Snapshot) -> Void) {
        let woken = state.withLockedValue { state -> ([CheckedContinuation<Snapshot, Never>], Snapshot) in
            change(&state.snapshot)
            defer { state.waiters.removeAll() }
            return (Array(state.waiters.values), state.snapshot)
        }
        for continuation in woken.0 { continuation.resume(returning: woken.1) }
    }

    /// The transfer, on the calling thread (a thread of the cache's own); returns when the file
    /// is published or thrown away.
    func run(_ request: UpstreamTransfer.Request, counters: ServerCounters, logger: Logger) {
        // The list first: a file it could not check would be downloaded only to be thrown away.
        if case .listed(let list, let store)? = check, let reason = store.unreadable(list) {
            logger.error("cache: \(key): \(reason)")
            return fail(reason, status: nil)
        }
        var request = request
        if let previous {
            request.ifNoneMatch = previous.etag
            request.ifModifiedSince = previous.lastModified
        }
        try? FileManager.default.createDirectory(atPath: layout.partialPath, withIntermediateDirectories: true)
        let descriptor = open(partialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            return fail("cannot write \(partialPath): \(String(cString: strerror(errno)))", status: nil)
        }
        var hasher = SHA256()
        var written = 0
        var writeError: String?
        var upstreamStatus: Int?
        var validators: (etag: String?, lastModified: String?) = (nil, nil)
        var refusal: String?
        do {
            _ = try UpstreamTransfer.run(
                request,
                onResponse: { response in
                    upstreamStatus = response.status
                    validators = (response.etag, response.lastModified)
                    guard response.status == 200 else { return false }
                    // A redirect to a directory (`netboot` → `netboot/`) answers with a listing:
                    // kept as a file it would stand where the directory's files belong.
                    if let final = response.effectiveURL, final.hasSuffix("/") {
                        refusal = "\(url): a directory on the upstream (\(final)), not a file"
                        return false
                    }
                    update {
                        $0.total = response.contentLength.map { Int($0) }
                        $0.started = true
                    }
                    return true
                },
                onData: { bytes in
                    guard Self.writeAll(descriptor, bytes) else {
                        writeError = String(cString: strerror(errno))
                        return false
                    }
                    hasher.update(bufferPointer: bytes)
                    written += bytes.count
                    counters.increment(.cacheUpstreamBytes, by: bytes.count)
                    update { $0.available = written }
                    return true
                })
        } catch {
            close(descriptor)
            unlink(partialPath)
            if upstreamStatus == 304, let previous {
                return confirm(previous, validators, counters: counters, logger: logger)
            }
            if let writeError { return fail("cannot write \(partialPath): \(writeError)", status: nil) }
            if let refusal { return fail(refusal, status: nil) }
            if let upstreamStatus, upstreamStatus != 200 {
                return fail("\(url): the upstream answered \(upstreamStatus)", status: upstreamStatus)
            }
            return fail("\(error)", status: nil)
        }
        let total = snapshot.total
        let digest = CacheHash.hex(hasher.finalize())
        var problem: ChecksumListStore.Problem?
        if upstreamStatus != 200 {
            problem = .unreadable("\(url): the upstream answered \(upstreamStatus.map(String.init) ?? "nothing")")
        } else if let total, total != written {
            problem = .unreadable("\(url): \(written) bytes arrived of the \(total) announced")
        } else if let rejection = verify(digest) {
            if case .refused = rejection { counters.increment(.cacheVerificationFailures) }
            problem = rejection
        }
        if let problem {
            close(descriptor)
            unlink(partialPath)
            logger.error("cache: \(key): \(problem.reason)")
            if case .refused = problem { return fail(problem.reason, status: nil, refused: true) }
            return fail(problem.reason, status: upstreamStatus == 404 ? 404 : nil)
        }
        // On disk before the name: a crash after the rename never leaves a short file published.
        let synced = fsync(descriptor) == 0 ? nil : String(cString: strerror(errno))
        close(descriptor)
        if let synced {
            unlink(partialPath)
            return fail("cannot write \(partialPath): fsync: \(synced)", status: nil)
        }
        let directory = (finalPath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard rename(partialPath, finalPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(partialPath)
            return fail("cannot publish \(finalPath): \(reason)", status: nil)
        }
        logger.info("cache: \(key): \(written) bytes from \(url), sha256 \(digest)")
        let record = CacheRecord(
            url: url, size: written, sha256: digest, etag: validators.etag, lastModified: validators.lastModified,
            validated: Date(), checkedAgainst: listURL)
        do { try layout.write(record, for: key) } catch {
            // Published all the same, the record kept in memory; after a restart the file is
            // asked about again on its next use.
            logger.warning("cache: \(key): \(error)")
        }
        update {
            $0.record = record
            $0.outcome = .published
        }
    }

    /// nil when the arrived file is the one its pin or checksum list names; else why not.
    private func verify(_ digest: String) -> ChecksumListStore.Problem? {
        switch check {
        case nil: nil
        case .pinned(let pin)?:
            digest == pin ? nil : .refused("\(url): SHA-256 \(digest) is not the pinned \(pin); refused")
        case .listed(let list, let store)?: store.problem(fileURL: url, digest: digest, listURL: list)
        }
    }

    /// A 304: the published copy is current; it is served (sendfile) and vouched for until the next max age.
    private func confirm(
        _ previous: CacheRecord, _ validators: (etag: String?, lastModified: String?), counters: ServerCounters,
        logger: Logger
    ) {
        var record = previous
        if let list = listURL, previous.checkedAgainst != list, let problem = verify(previous.sha256) {
            switch problem {
            case .refused(let refusal):
                // Unchanged upstream, but the copy is not what its list names (it arrived before
                // the list was configured, or the list changed): it goes, it is not served.
                counters.increment(.cacheVerificationFailures)
                logger.error("cache: \(key): the cached copy: \(refusal); removed")
                _ = layout.remove(key)
                return fail(refusal, status: nil, refused: true)
            case .unreadable(let reason):
                // Nothing known against the copy: it stays, served as when the upstream cannot
                // be asked, and is checked again after a while.
                logger.warning("cache: \(key): the cached copy stays unchecked: \(reason)")
                return fail(reason, status: nil)
            }
        }
        record.checkedAgainst = listURL
        record.validated = Date()
        record.etag = validators.etag ?? previous.etag
        record.lastModified = validators.lastModified ?? previous.lastModified
        do { try layout.write(record, for: key) } catch { logger.warning("cache: \(key): \(error)") }
        counters.increment(.cacheNotModified)
        logger.debug("cache: \(key): unchanged upstream (304)")
        update {
            $0.record = record
            $0.outcome = .published
            $0.started = true
        }
    }

    private func fail(_ reason: String, status: Int?, refused: Bool = false) {
        update {
            $0.outcome = .failed(reason: reason, status: status)
            $0.started = true
            $0.refused = refused
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }
}
