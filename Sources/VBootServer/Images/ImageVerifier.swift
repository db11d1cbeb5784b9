import Foundation
import Logging
import NIOConcurrencyHelpers

/// The files of diskless images (`vboot image build`): a directory of the assets tree with a
/// `vboot-image.json` beside them. A file the manifest names is served only while its size and
/// SHA-256 are the manifest's, so a truncated copy or a corrupted disk is refused, not booted
/// by twenty machines. Each version of a file (and of its manifest) is hashed once, on a thread
/// of its own: the first storm after a publish waits for one hash, later requests for none.
final class ImageVerifier: Sendable {
    enum State: Sendable, Equatable {
        case intact
        case refused(String)
        /// Being hashed: HTTP waits (`wait`), TFTP (which cannot) is told to try again.
        case checking
    }

    private struct Key: Hashable {
        var path: String
        var file: FileIdentity
        var manifest: FileIdentity
    }

    private enum Entry {
        case done(State)
        case checking([CheckedContinuation<State, Never>])
    }

    private let entries = NIOLockedValueBox<[Key: Entry]>([:])
    /// Past this many file versions the memory starts over (each is hashed again once).
    static let capacity = 4_096
    private let manifests = ParsedFileCache<ImageManifest> { _, text in try ImageManifest.decode(Data(text.utf8)) }
    private let counters: ServerCounters
    private let logger: Logger

    init(counters: ServerCounters, logger: Logger) {
        self.counters = counters
        self.logger = logger
    }

    /// Starts the check of every image under `ASSETS/images/` (where `vboot image build` puts
    /// them), so the first machines after a start do not wait and TFTP is not told to retry.
    func checkPublished(assetsRoot: String) {
        let images = assetsRoot + "/images"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []).sorted() {
            let directory = images + "/" + name
            guard let data = FileManager.default.contents(atPath: directory + "/" + ImageManifest.fileName) else {
                continue
            }
            guard let manifest = try? ImageManifest.decode(data) else {
                logger.error("images: \(directory)/\(ImageManifest.fileName) cannot be read: its files are not served")
                continue
            }
            for file in manifest.files {
                if let real = BootFileStore.realPath(directory + "/" + file.name) { _ = state(of: real) }
            }
        }
    }

    /// nil when the file is not an image's (no manifest beside it, or one that does not name it);
    /// else whether it may be served, starting its check when this version is new.
    func state(of path: String) -> State? {
        switch lookup(path) {
        case nil: return nil
        case .answer(let state): return state
        case .check(let key, let expected):
            start(key, expected)
            return .checking
        }
    }

    /// As `state`, waiting for the check to end.
    func wait(for path: String) async -> State? {
        switch lookup(path) {
        case nil: return nil
        case .answer(let state): return state
        case .check(let key, let expected):
            return await withCheckedContinuation { continuation in
                enum Joined {
                    case done(State)
                    /// Waiting for a check another caller started.
                    case waiting
                    /// Waiting for the check this caller must start.
                    case claimed
                }
                let joined = entries.withLockedValue { entries -> Joined in
                    switch entries[key] {
                    case .done(let state)?: return .done(state)
                    case .checking(var waiting)?:
                        waiting.append(continuation)
                        entries[key] = .checking(waiting)
                        return .waiting
                    case nil:
                        entries[key] = .checking([continuation])
                        return .claimed
                    }
                }
                switch joined {
                case .done(let state): continuation.resume(returning: state)
                case .waiting: break
                case .claimed: start(key, expected, claimed: true)
                }
            }
        }
    }

    private enum Lookup {
        case answer(State)
        case check(Key, ImageManifest.File)
    }

    private func lookup(_ path: String) -> Lookup? {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let manifestPath = directory + "/" + ImageManifest.fileName
        guard name != ImageManifest.fileName, let manifestIdentity = FileIdentity(path: manifestPath),
            let identity = FileIdentity(path: path)
        else { return nil }
        let key = Key(path: path, file: identity, manifest: manifestIdentity)
        if case .done(let state)? = entries.withLockedValue({ $0[key] }) { return .answer(state) }
        let manifest: ImageManifest
        do {
            guard let read = try manifests.value(at: manifestPath) else { return nil }
            manifest = read
        } catch {
            return .answer(remember(key, "its manifest \(manifestPath) cannot be read (\(error))"))
        }
        guard let expected = manifest.file(named: name) else { return nil }
        guard identity.size == expected.size else {
            return .answer(
                remember(
                    key, "\(identity.size) bytes, not the \(expected.size) its manifest names (cut short or replaced)"))
        }
        return .check(key, expected)
    }

    /// A refusal found without hashing, logged and counted once per version of the file.
    private func remember(_ key: Key, _ reason: String) -> State {
        let known = entries.withLockedValue { entries -> State? in
            if case .done(let state)? = entries[key] { return state }
            return nil
        }
        if let known { return known }
        let state = refuse(key.path, reason)
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity { entries = entries.filter { Self.isChecking($0.value) } }
            entries[key] = .done(state)
        }
        return state
    }

    private static func isChecking(_ entry: Entry) -> Bool {
        if case .checking = entry { return true }
        return false
    }

    /// Hashes the file on a thread of its own unless another caller already is.
    private func start(_ key: Key, _ expected: ImageManifest.File, claimed: Bool = false) {
        if !claimed {
            let mine = entries.withLockedValue { entries -> Bool in
                guard entries[key] == nil else { return false }
                if entries.count >= Self.capacity { entries = entries.filter { Self.isChecking($0.value) } }
                entries[key] = .checking([])
                return true
            }
            guard mine else { return }
        }
        let thread = Thread { [self] in
            let digest = FileDigest.sha256(ofFile: key.path)
            let state: State
            if digest == expected.sha256 {
                counters.increment(.imageFilesVerified)
                logger.info("images: \(key.path): \(expected.size) bytes, sha256 as its manifest names")
                state = .intact
            } else {
                state = refuse(
                    key.path,
                    digest.map {
                        "SHA-256 \($0), not the \(expected.sha256) its manifest names (corrupted or replaced)"
                    }
                        ?? "cannot be read")
            }
            let waiting = entries.withLockedValue { entries -> [CheckedContinuation<State, Never>] in
                defer { entries[key] = .done(state) }
                if case .checking(let waiting)? = entries[key] { return waiting }
                return []
            }
            for continuation in waiting { continuation.resume(returning: state) }
        }
        thread.name = "vboot-image-check"
        thread.start()
    }

    private func refuse(_ path: String, _ reason: String) -> State {
        counters.increment(.imageVerificationFailures)
        logger.error("images: \(path): \(reason); not served")
        return .refused("\(path): \(reason); not served")
    }
}
