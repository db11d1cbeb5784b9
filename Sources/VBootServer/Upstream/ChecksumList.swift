/// A published list of SHA-256 digests, such as Debian's `SHA256SUMS` next to the installer
/// images or Fedora's `CHECKSUM`: what an upstream file must hash to before the cache publishes
/// it. Names in the list are relative to the list's own URL, so a list at `.../images/SHA256SUMS`
/// naming `./netboot/debian-installer/amd64/linux` vouches for
/// `.../images/netboot/debian-installer/amd64/linux`, whichever upstream prefix asks for it.
///
/// Two line forms, as `sha256sum` writes them: `HEX  NAME` (text mode) or `HEX *NAME` (binary
/// mode), and the BSD form `SHA256 (NAME) = HEX` (`sha256sum --tag`, Fedora). Any other line
/// (comments, a PGP signature's armour around a clear-signed list, other digests) is skipped.
struct ChecksumList: Sendable, Equatable {
    /// File URL → lowercase hex digest.
    private(set) var digests: [String: String] = [:]

    /// Lists larger than this are not read: Debian's whole installer tree lists a few hundred
    /// files in about 40 KB.
    static let maxBytes = 4 << 20
    static let hexLength = 64

    struct ParseError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    init(parsing text: String, listURL: String) throws(ParseError) {
        let base = listURL.prefix { $0 != "?" && $0 != "#" }
        let directory = base[..<(base.lastIndex(of: "/") ?? base.endIndex)]
        // \.isNewline: "\r\n" is one Character in Swift, equal to neither "\r" nor "\n".
        for rawLine in text.split(whereSeparator: \.isNewline) {
            guard let (digest, name) = Self.entry(Substring(rawLine)),
                let path = Self.normalised(name)
            else { continue }
            digests[directory + "/" + path] = digest
        }
        guard !digests.isEmpty else {
            throw ParseError(description: "\(listURL) holds no SHA-256 lines (HEX  NAME or SHA256 (NAME) = HEX)")
        }
    }

    /// The digest the list gives for the file at `url`; nil when it does not name the file.
    func sha256(forFileAt url: String) -> String? { digests[url] }

    private static func entry(_ line: Substring) -> (digest: String, name: Substring)? {
        let bsdPrefix = "SHA256 ("
        if line.hasPrefix(bsdPrefix), let close = line.range(of: ") = ", options: .backwards) {
            let digest = line[close.upperBound...]
            guard isDigest(digest) else { return nil }
            return (
                digest.lowercased(), line[line.index(line.startIndex, offsetBy: bsdPrefix.count)..<close.lowerBound]
            )
        }
        let digest = line.prefix(hexLength)
        let rest = line.dropFirst(hexLength)
        guard isDigest(digest), rest.hasPrefix("  ") || rest.hasPrefix(" *") else { return nil }
        return (digest.lowercased(), rest.dropFirst(2))
    }

    private static func isDigest(_ text: Substring) -> Bool {
        text.utf8.count == hexLength
            && text.utf8.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
                    || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains($0)
            }
    }

    /// `./a/b` → `a/b`; a name that climbs out (`..`), is absolute or is empty names nothing the
    /// list's directory holds.
    private static func normalised(_ name: Substring) -> String? {
        var segments = name.split(separator: "/", omittingEmptySubsequences: false)[...]
        while segments.first == "." { segments = segments.dropFirst() }
        guard !segments.isEmpty, segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { return nil }
        return segments.joined(separator: "/")
    }
}
