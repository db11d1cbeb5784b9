import BootPolicy
import Foundation

/// An upstream mirror: `/assets/NAME/PATH` is `URL/PATH`, fetched once into the cache.
public struct Upstream: Sendable, Hashable {
    public var name: String
    /// `https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images`, no
    /// trailing slash.
    public var url: String
    /// The SHA-256 list (`SHA256SUMS`) its files are checked against before they are published.
    public var checksums: String?

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

    static func isValidName(_ name: String) -> Bool { Profile.isUpstreamName(name) }
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
    /// Upstream name → URL of the SHA-256 list its files must match (`--cache-checksums`).
    public var checksumLists: [String: String] = [:]
    /// Bytes kept at most (least recently used files go first); nil: no bound.
    public var maxSize: Int? = CacheSize.defaultMaxSize
    /// How long a copy is served before the upstream is asked again; nil: never asked.
    public var maxAge: Duration? = CacheAge.defaultMaxAge
    public var mode = CacheMode.online
    /// Downloads one client address may have started and still running.
    public var fillsPerClient = 16
    public init() {}
}

public enum CacheMode: String, Sendable, Hashable, CaseIterable {
    case online, offline
}

/// `--cache-max-size`: `500M`, `32G`, `1T` (powers of 1024), a byte count, or `unlimited`.
public enum CacheSize {
    public static let defaultMaxSize: Int? = 32 << 30

    /// `.some(nil)` is `unlimited`.
    static func parse(_ text: String) -> Int?? {
        if text == "unlimited" { return .some(nil) }
        let units: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40]
        var digits = Substring(text)
        var shift = 0
        if let last = digits.last?.uppercased().first, let unit = units[last] {
            shift = unit
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits), number > 0,
            number <= Int.max >> (shift + 1)
        else { return nil }
        return .some(number << shift)
    }

    /// `1.5 GiB`-style, for logs and `vboot assets`.
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
    }
}

/// `--cache-max-age`: `45s`, `30m`, `12h`, `7d`, `0` (ask every time) or `never`.
public enum CacheAge {
    public static let defaultMaxAge: Duration? = .seconds(86_400)

    public static func parse(_ text: String) -> Duration?? {
        if text == "never" { return .some(nil) }
        if text == "0" { return .some(.zero) }
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        guard let last = text.last, let unit = units[last] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits),
            number <= 36_500 * 86_400 / unit
        else { return nil }
        return .some(.seconds(number * unit))
    }
}

/// One pinned checksum: `UPSTREAM/PATH=HEX`.
struct CachePin {
    var key: String
    var sha256: String

    init?(_ text: String) {
        guard let equals = text.lastIndex(of: "=") else { return nil }
        key = String(text[..<equals])
        sha256 = text[text.index(after: equals)...].lowercased()
        guard sha256.count == 64, sha256.utf8.allSatisfy({ $0.isHexDigit }), CachePath.isValidKey(key) else {
            return nil
        }
    }
}

/// A path under an upstream, as a URL and a cache file name: segments without `.`/`..`, empty
/// parts or control characters. A segment may start with a dot (an installer tree's `.treeinfo`):
/// the cache's own `.partial` and `.meta` sit beside the upstreams' directories, never in them.
enum CachePath {
    /// `UPSTREAM/PATH`: never `.partial/...` or `.meta/...`, the cache's own.
    static func isValidKey(_ key: String) -> Bool {
        guard let slash = key.firstIndex(of: "/") else { return false }
        return Upstream.isValidName(String(key[..<slash])) && isValid(String(key[key.index(after: slash)...]))
    }

    static func isValid(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 1024 else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".." && segment.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
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

extension ServerConfiguration {
    /// `--cache-dir`, else `cache` in the data directory.
    public var cacheDirectory: String {
        cache.directory ?? (dataDirectory ?? FileManager.default.temporaryDirectory.path + "/vboot") + "/cache"
    }

    /// Machines' persistent NBD layers (`NBDExports`), beside the inventory.
    var overlaysDirectory: String {
        (dataDirectory ?? FileManager.default.temporaryDirectory.path + "/vboot") + "/overlays"
    }
}
