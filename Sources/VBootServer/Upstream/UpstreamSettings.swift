/// An upstream mirror: `/assets/NAME/PATH` is `URL/PATH`, fetched once into the cache.
public struct Upstream: Sendable, Hashable {
    public var name: String
    /// `https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images`, no
    /// trailing slash.
    public var url: String

    /// `NAME=URL`; the name is one path segment of letters, digits, `-`, `_`, `.`.
    public init?(_ text: String) {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        var url = String(text[text.index(after: equals)...])
        while url.hasSuffix("/") { url.removeLast() }
        guard Self.isValidName(name), url.hasPrefix("http://") || url.hasPrefix("https://"),
            url.split(separator: "/", omittingEmptySubsequences: false).count >= 3,
            !url.contains(where: { $0.isWhitespace || $0 == "?" || $0 == "#" })
        else { return nil }
        self.name = name
        self.url = url
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".")
            && name.utf8.allSatisfy {
                $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
    }
}

/// How the cache fetches and keeps upstream files.
public struct CacheSettings: Sendable, Hashable {
    /// nil: `cache` in the data directory.
    public var directory: String?
    /// `http://proxy:3128` for every upstream; nil: direct.
    public var proxy: String?
    /// PEM file of the CAs to trust for HTTPS upstreams instead of the system's.
    public var caBundle: String?
    /// `UPSTREAM/PATH` → the file's SHA-256 (lowercase hex): published only when it matches.
    public var pins: [String: String] = [:]
    public init() {}
}

/// One pinned checksum: `UPSTREAM/PATH=HEX`.
struct CachePin {
    var key: String
    var sha256: String

    init?(_ text: String) {
        guard let equals = text.lastIndex(of: "=") else { return nil }
        key = String(text[..<equals])
        sha256 = text[text.index(after: equals)...].lowercased()
        guard sha256.count == 64, sha256.utf8.allSatisfy({ $0.isHexDigit }),
            let slash = key.firstIndex(of: "/"), Upstream.isValidName(String(key[..<slash])),
            CachePath.isValid(String(key[key.index(after: slash)...]))
        else { return nil }
    }
}

/// A path under an upstream, as a URL and a cache file name: segments without `.`/`..`, empty
/// parts, control characters or a leading `.` (the cache keeps its own files under `.partial`).
enum CachePath {
    static func isValid(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 1024 else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { segment in
            !segment.isEmpty && !segment.hasPrefix(".") && segment.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
                && !segment.contains("?") && !segment.contains("#") && !segment.contains("%")
        }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }

    var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
    }
}
