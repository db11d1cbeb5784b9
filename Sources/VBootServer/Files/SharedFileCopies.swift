import NIOConcurrencyHelpers
import NIOCore

/// Whole in-memory copies of often-fetched boot files (ipxe.efi, a kernel, an initrd), each read
/// once and shared by every TFTP transfer of it, so a storm of machines fetching one file holds
/// one copy rather than a read-ahead window each. A transfer pins its copy until it ends; the
/// total counts every copy still pinned (also one retired because its file changed), so
/// `maximumTotal` holds however transfers and file changes interleave. When a file does not fit
/// without dropping a pinned copy, nil: the transfer reads from disk within the read-ahead budget.
final class SharedFileCopies: Sendable {
    struct Limits: Sendable {
        var maximumFileSize = TFTPResourceLimits.largestSharedFile
        var maximumTotal = 256 << 20
    }

    /// One file's bytes, as read at `identity`.
    final class Copy: Sendable {
        let path: String
        let identity: FileIdentity
        let data: ByteBuffer

        init(path: String, identity: FileIdentity, data: ByteBuffer) {
            self.path = path
            self.identity = identity
            self.data = data
        }
    }

    fileprivate struct Entry {
        var copy: Copy
        var users = 0
        var lastUse: UInt64 = 0
    }

    fileprivate struct State {
        /// The current copy of each file.
        var entries: [String: Entry] = [:]
        /// Copies of files changed since, still pinned by transfers: (bytes, users).
        var retired: [ObjectIdentifier: (bytes: Int, users: Int)] = [:]
        var total = 0
        var clock: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    let limits: Limits

    init(limits: Limits = Limits()) { self.limits = limits }

    /// The file's shared copy, pinned for the caller (call `release` when done); nil for a file
    /// too big, just changed, unreadable, or with no room left.
    func acquire(_ path: String) -> Copy? {
        // A file changed within the last second may change again unseen (FileIdentity).
        guard let identity = FileIdentity(path: path), identity.size <= limits.maximumFileSize,
            identity.size <= limits.maximumTotal, identity.isSettled
        else { return nil }
        if let copy = state.withLockedValue({ $0.pin(path, identity) }) { return copy }
        guard let data = Self.read(path, size: identity.size) else { return nil }
        let fresh = Copy(path: path, identity: identity, data: data)
        return state.withLockedValue { state in
            // Another caller may have read it meanwhile.
            if let copy = state.pin(path, identity) { return copy }
            if let old = state.entries.removeValue(forKey: path) { state.retire(old) }
            while state.total + identity.size > limits.maximumTotal,
                let idle = state.entries.filter({ $0.value.users == 0 }).min(by: { $0.value.lastUse < $1.value.lastUse }
                )
            {
                state.total -= idle.value.copy.data.readableBytes
                state.entries[idle.key] = nil
            }
            guard state.total + identity.size <= limits.maximumTotal else { return nil }
            state.clock += 1
            state.entries[path] = Entry(copy: fresh, users: 1, lastUse: state.clock)
            state.total += identity.size
            return fresh
        }
    }

    /// Unpins a copy from `acquire`.
    func release(_ copy: Copy) {
        state.withLockedValue { state in
            if let entry = state.entries[copy.path], entry.copy === copy {
                state.entries[copy.path]?.users -= 1
                return
            }
            let id = ObjectIdentifier(copy)
            guard let retired = state.retired[id] else { return }
            if retired.users > 1 {
                state.retired[id]?.users -= 1
            } else {
                state.retired[id] = nil
                state.total -= retired.bytes
            }
        }
    }

    /// Bytes of all copies held (current and retired-but-pinned).
    var totalBytes: Int { state.withLockedValue { $0.total } }

    private static func read(_ path: String, size: Int) -> ByteBuffer? {
        guard let reader = try? FileReader(path: path) else { return nil }
        defer { reader.close() }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        return reader.read(into: &buffer, offset: 0, count: size) ? buffer : nil
    }
}

extension SharedFileCopies.State {
    fileprivate mutating func pin(_ path: String, _ identity: FileIdentity) -> SharedFileCopies.Copy? {
        guard let entry = entries[path], entry.copy.identity == identity else { return nil }
        clock += 1
        entries[path]?.users += 1
        entries[path]?.lastUse = clock
        return entry.copy
    }

    /// A replaced file's copy: gone now if unpinned, else kept (and counted) until its last user ends.
    fileprivate mutating func retire(_ entry: SharedFileCopies.Entry) {
        if entry.users > 0 {
            retired[ObjectIdentifier(entry.copy)] = (entry.copy.data.readableBytes, entry.users)
        } else {
            total -= entry.copy.data.readableBytes
        }
    }
}
