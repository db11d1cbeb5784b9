import Foundation

/// The published files the cache holds, their sizes and last use: what the size bound evicts
/// (least recently used first). Rebuilt from the directory at start; the disk stays the truth
/// for whether a file is there (another process may have added or pruned one).
struct CacheIndex: Sendable {
    struct Entry: Sendable, Equatable {
        var size: Int
        var lastUsed: Date
        var record: CacheRecord?
        /// The file `record` was read for: a file replaced by another process (`vboot assets
        /// fetch`), even with the same size, has its record read again.
        var recordFile: FileIdentity.Content?
    }

    private(set) var entries: [String: Entry] = [:]
    private(set) var total = 0
    /// A use is written to the file's access time at most this often.
    static let touchInterval: TimeInterval = 60

    init(_ published: [CacheLayout.Entry] = []) {
        for entry in published { set(entry.key, Entry(size: entry.size, lastUsed: entry.lastUsed, record: nil)) }
    }

    subscript(key: String) -> Entry? { entries[key] }

    mutating func set(_ key: String, _ entry: Entry?) {
        total -= entries[key]?.size ?? 0
        entries[key] = entry
        total += entry?.size ?? 0
    }

    /// Records a use; true when the file's access time should be set (first use in a while).
    mutating func use(_ key: String, size: Int, at now: Date) -> Bool {
        var entry = entries[key] ?? Entry(size: size, lastUsed: .distantPast, record: nil)
        let stale = now.timeIntervalSince(entry.lastUsed) >= Self.touchInterval
        if entry.size != size {
            // Replaced on disk by another process: its record is not this file's.
            entry.record = nil
        }
        entry.size = size
        if stale { entry.lastUsed = now }
        set(key, entry)
        return stale
    }

    /// Removes least recently used files from the index until `total` fits `limit`, sparing
    /// `keeping` (files on their way or just published); returns what to delete from disk.
    mutating func evict(toFit limit: Int, keeping: Set<String>) -> [(key: String, entry: Entry)] {
        guard total > limit else { return [] }
        var victims: [(key: String, entry: Entry)] = []
        for (key, entry) in entries.sorted(by: { ($0.value.lastUsed, $0.key) < ($1.value.lastUsed, $1.key) }) {
            guard total > limit else { break }
            if keeping.contains(key) { continue }
            set(key, nil)
            victims.append((key, entry))
        }
        return victims
    }
}
