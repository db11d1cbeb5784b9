import Foundation
import NIOConcurrencyHelpers

/// Files parsed once and reused while their identity holds: script templates and profiles are
/// read per boot so an edit takes effect at once, but parsing them per request cost a third of
/// a script response. A file that fails to parse is not kept (its error is reported each time).
final class ParsedFileCache<Value: Sendable>: Sendable {
    /// Per-MAC script files can be many; past this the cache starts over.
    static var capacity: Int { 4096 }

    private let entries = NIOLockedValueBox<[String: (identity: FileIdentity, value: Value)]>([:])
    private let parse: @Sendable (_ path: String, _ text: String) throws -> Value

    init(parse: @escaping @Sendable (_ path: String, _ text: String) throws -> Value) { self.parse = parse }

    /// A regular file that is there but cannot be read (its mode, an I/O error): not the same as
    /// no file, which a caller may take as "nothing asked for".
    struct Unreadable: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) cannot be read" }
    }

    /// The parsed file, or nil when there is no regular file at `path`.
    func value(at path: String) throws -> Value? {
        guard let identity = FileIdentity(path: path), identity.isRegularFile else { return nil }
        if let hit = entries.withLockedValue({ $0[path] }), hit.identity == identity { return hit.value }
        guard let data = FileManager.default.contents(atPath: path) else { throw Unreadable(path: path) }
        let value = try parse(path, String(decoding: data, as: UTF8.self))
        // Identity from before the read: a write racing the read is caught on the next request.
        guard identity.isSettled else { return value }
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[path] = (identity, value)
        }
        return value
    }
}
