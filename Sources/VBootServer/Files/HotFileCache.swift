import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// Small, often-fetched boot files (ipxe.efi, undionly.kpxe, snponly.efi) kept in memory, so a
/// boot storm reads each once instead of once per DATA packet per client. An entry is valid while
/// the file's size, modification time and inode are unchanged; a replaced file is read again.
/// Bounded in file size and in total (least recently used entries go first).
final class HotFileCache: Sendable {
    struct Limits: Sendable {
        var maximumFileSize = 4 << 20
        var maximumTotal = 16 << 20
    }

    private struct Entry {
        var identity: FileIdentity
        var data: ByteBuffer
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var total = 0
        var clock: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    let limits: Limits

    init(limits: Limits = Limits()) { self.limits = limits }

    /// The whole file, from memory when its identity still matches; nil for files too big to
    /// cache, just changed, or unreadable (the caller reads them from disk).
    func contents(of path: String) -> ByteBuffer? {
        // A file changed within the last second may change again unseen (FileIdentity): the
        // caller reads it from disk, in bounded pieces, like a big file.
        guard let identity = FileIdentity(path: path), identity.size <= limits.maximumFileSize, identity.isSettled
        else { return nil }
        let cached = state.withLockedValue { state -> ByteBuffer? in
            guard let entry = state.entries[path], entry.identity == identity else { return nil }
            state.clock += 1
            state.entries[path]?.lastUse = state.clock
            return entry.data
        }
        if let cached { return cached }
        guard let data = Self.read(path, size: identity.size) else { return nil }
        state.withLockedValue { state in
            if let old = state.entries.removeValue(forKey: path) { state.total -= old.data.readableBytes }
            while state.total + data.readableBytes > limits.maximumTotal,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                state.total -= oldest.value.data.readableBytes
                state.entries[oldest.key] = nil
            }
            guard data.readableBytes <= limits.maximumTotal else { return }
            state.clock += 1
            state.entries[path] = Entry(identity: identity, data: data, lastUse: state.clock)
            state.total += data.readableBytes
        }
        return data
    }

    private static func read(_ path: String, size: Int) -> ByteBuffer? {
        guard let reader = try? FileReader(path: path) else { return nil }
        defer { reader.close() }
        var buffer = ByteBufferAllocator().buffer(capacity: size)
        return reader.read(into: &buffer, offset: 0, count: size) ? buffer : nil
    }

    var totalBytes: Int { state.withLockedValue { $0.total } }
}
