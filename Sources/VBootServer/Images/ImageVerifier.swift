import Dispatch
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers

/// The files of diskless images (`vboot image build`): a directory of the assets tree with a
/// `vboot-image.json` beside them. A file the manifest names is served only while its size and
/// SHA-256 are the manifest's, so a truncated, replaced or corrupted copy is refused, not booted
/// by twenty machines. Each version of a file (inode, size, times; and its manifest's) is hashed
/// once, on one queue: the first storm after a publish waits for one hash, later requests for
/// none. Bytes that rot inside a file already checked, with no change to its inode or times, are
/// seen at the next start of vboot.
final class ImageVerifier: Sendable {
    enum State: Sendable, Equatable {
        case intact
        case refused(String)
        /// Being hashed: HTTP waits (`wait`), TFTP (which cannot) gets no answer and asks again.
        case checking
    }

    /// What a request for a file gets from what is on the disk, before any hashing.
    enum Decision: Equatable {
        /// No manifest beside it, or one that does not name it: a plain asset.
        case plainAsset
        case refuse(String)
        /// The manifest names it with its size: hash it against this.
        case hash(ImageManifest.File)
    }

    /// The manifest beside a file, as read.
    enum ManifestRead: Equatable {
        case absent
        case read(ImageManifest)
        case unreadable(String)
    }

    static func decide(name: String, size: Int, manifest: ManifestRead, manifestPath: String) -> Decision {
        switch manifest {
        case .absent: return .plainAsset
        case .unreadable(let why):
            // Which files it named is unknown: every file beside it is refused, none served unchecked.
            return .refuse("its manifest \(manifestPath) cannot be read (\(why))")
        case .read(let manifest):
            guard let expected = manifest.file(named: name) else { return .plainAsset }
            guard size == expected.size else {
                return .refuse("\(size) bytes, not the \(expected.size) its manifest names (cut short or replaced)")
            }
            return .hash(expected)
        }
    }

    private struct Key: Hashable {
        var path: String
        var file: FileIdentity
        var manifest: FileIdentity
    }

    /// nil: the file changed while it was hashed; the caller looks again.
    private typealias Waiter = CheckedContinuation<State?, Never>

    private enum Entry {
        case done(State)
        case checking([Waiter])
    }

    private let entries = NIOLockedValueBox<[Key: Entry]>([:])
    /// Past this many file versions the memory starts over (each is hashed again once).
    static let capacity = 4_096
    private let manifests = ParsedFileCache<ImageManifest> { _, text in try ImageManifest.decode(Data(text.utf8)) }
    /// One hash at a time: a second image published meanwhile waits rather than halving both.
    private let hashing = DispatchQueue(label: "vboot-image-check")
    private let counters: ServerCounters
    private let logger: Logger

    init(counters: ServerCounters, logger: Logger) {
        self.counters = counters
        self.logger = logger
    }

    /// Starts the check of every image under `ASSETS/images/` (where `vboot image build` puts
    /// them), so the first machines after a start do not wait and TFTP is answered at once.
    func checkPublished(assetsRoot: String) {
        let images = assetsRoot + "/images"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []).sorted() {
            let directory = images + "/" + name
            let manifestPath = directory + "/" + ImageManifest.fileName
            switch readManifest(manifestPath) {
            case .absent: continue
            case .unreadable(let why):
                logger.error("images: \(manifestPath) cannot be read (\(why)): no file beside it is served")
            case .read(let manifest):
                for file in manifest.files {
                    if let real = BootFileStore.realPath(directory + "/" + file.name) { _ = state(of: real) }
                }
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
            switch join(key, expected, waiter: nil) {
            case .done(let state): return state
            case .checking: return .checking
            }
        }
    }

    /// As `state`, waiting for the check to end.
    func wait(for path: String) async -> State? {
        // A file replaced while it was hashed is looked up again (its new version, its new check).
        for _ in 0..<3 {
            guard case .check(let key, let expected) = lookup(path) else { return state(of: path) }
            let answer = await withCheckedContinuation { (continuation: Waiter) in
                if case .done(let state) = join(key, expected, waiter: continuation) {
                    continuation.resume(returning: state)
                }
            }
            if let answer { return answer }
        }
        return .refused("\(path): changed each time it was checked against its manifest; not served")
    }

    private enum Joined {
        case done(State)
        /// Being hashed (by this caller's doing, or another's): `waiter` is told the answer.
        case checking
    }

    /// Joins the check of this version of the file, starting it if nobody has.
    private func join(_ key: Key, _ expected: ImageManifest.File, waiter: Waiter?) -> Joined {
        let (joined, claimed) = entries.withLockedValue { entries -> (Joined, Bool) in
            switch entries[key] {
            case .done(let state)?: return (.done(state), false)
            case .checking(let waiting)?:
                entries[key] = .checking(waiting + (waiter.map { [$0] } ?? []))
                return (.checking, false)
            case nil:
                Self.makeRoom(&entries)
                entries[key] = .checking(waiter.map { [$0] } ?? [])
                return (.checking, true)
            }
        }
        if claimed { hash(key, expected) }
        return joined
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
        switch Self.decide(
            name: name, size: identity.size, manifest: readManifest(manifestPath), manifestPath: manifestPath)
        {
        case .plainAsset: return nil
        case .refuse(let reason): return .answer(settle(key, refusing: reason))
        case .hash(let expected): return .check(key, expected)
        }
    }

    /// What the manifest beside `path` says of it (its size and SHA-256), read as the checks read
    /// it; nil when no readable manifest names it.
    func manifestEntry(for path: String) -> ImageManifest.File? {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        guard case .read(let manifest) = readManifest(directory + "/" + ImageManifest.fileName) else { return nil }
        return manifest.file(named: name)
    }

    private func readManifest(_ path: String) -> ManifestRead {
        do {
            return try manifests.value(at: path).map(ManifestRead.read) ?? .absent
        } catch {
            return .unreadable("\(error)")
        }
    }

    /// Hashes the file as it is now open, on the hashing queue: the bytes hashed are those of
    /// the version looked up, or the check says the file changed.
    private func hash(_ key: Key, _ expected: ImageManifest.File) {
        hashing.async { [self] in
            let descriptor = open(key.path, O_RDONLY | O_CLOEXEC)
            defer { if descriptor >= 0 { close(descriptor) } }
            guard descriptor < 0 || FileIdentity(descriptor: descriptor) == key.file else {
                let waiting = entries.withLockedValue { entries -> [Waiter] in
                    defer { entries[key] = nil }
                    if case .checking(let waiting)? = entries[key] { return waiting }
                    return []
                }
                for waiter in waiting { waiter.resume(returning: nil) }
                return
            }
            let digest = descriptor < 0 ? nil : FileDigest.sha256(ofDescriptor: descriptor)
            if digest == expected.sha256 {
                counters.increment(.imageFilesVerified)
                logger.info("images: \(key.path): \(expected.size) bytes, sha256 as its manifest names")
                settle(key, .intact)
            } else {
                settle(
                    key,
                    refusing: digest.map {
                        "SHA-256 \($0), not the \(expected.sha256) its manifest names (corrupted or replaced)"
                    } ?? "cannot be read")
            }
        }
    }

    /// A refusal, logged and counted once per version of the file.
    @discardableResult
    private func settle(_ key: Key, refusing reason: String) -> State {
        settle(key, .refused("\(key.path): \(reason); not served")) {
            counters.increment(.imageVerificationFailures)
            logger.error("images: \(key.path): \(reason); not served")
        }
    }

    /// Records the answer for this version of the file, unless one is already there, and gives
    /// it to every caller waiting for it. `whenNew` runs when this call recorded it.
    @discardableResult
    private func settle(_ key: Key, _ state: State, whenNew: () -> Void = {}) -> State {
        let (answer, waiting, recorded) = entries.withLockedValue { entries -> (State, [Waiter], Bool) in
            switch entries[key] {
            case .done(let known)?: return (known, [], false)
            case .checking(let waiting)?:
                entries[key] = .done(state)
                return (state, waiting, true)
            case nil:
                Self.makeRoom(&entries)
                entries[key] = .done(state)
                return (state, [], true)
            }
        }
        if recorded { whenNew() }
        for waiter in waiting { waiter.resume(returning: answer) }
        return answer
    }

    private static func makeRoom(_ entries: inout [Key: Entry]) {
        guard entries.count >= capacity else { return }
        entries = entries.filter {
            if case .checking = $0.value { return true }
            return false
        }
    }
}
