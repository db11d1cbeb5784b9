import Foundation

/// `ipxe/ipxe.lock`: which upstream iPXE `vboot rom build` builds when given no `--source`.
public struct IPXELock: Hashable, Sendable {
    public var url: String
    /// Full 40-hex commit id: a tag can move, a commit cannot.
    public var commit: String
    public var tag: String?
    /// Commit time, used as SOURCE_DATE_EPOCH.
    public var epoch: Int?

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "ipxe.lock line \(line): \(reason)" }
    }

    public init(url: String, commit: String, tag: String? = nil, epoch: Int? = nil) {
        self.url = url
        self.commit = commit
        self.tag = tag
        self.epoch = epoch
    }

    /// `key=value` lines; `#` starts a comment.
    public init(parsing text: String) throws(ParseError) {
        var values: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(line: index + 1, reason: "expected key=value, got \"\(line)\"")
            }
            let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            guard ["url", "commit", "tag", "epoch"].contains(key) else {
                throw ParseError(line: index + 1, reason: "unknown key \"\(key)\" (url, commit, tag, epoch)")
            }
            values[key] = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        guard let url = values["url"], !url.isEmpty else { throw ParseError(line: 0, reason: "no url") }
        guard let commit = values["commit"], commit.count == 40, commit.allSatisfy(\.isHexDigit) else {
            throw ParseError(line: 0, reason: "commit must be a full 40-hex commit id")
        }
        var epoch: Int?
        if let text = values["epoch"] {
            guard let value = Int(text), value >= 0 else {
                throw ParseError(line: 0, reason: "epoch \(text) is not a Unix time")
            }
            epoch = value
        }
        self.init(url: url, commit: commit.lowercased(), tag: values["tag"], epoch: epoch)
    }
}
