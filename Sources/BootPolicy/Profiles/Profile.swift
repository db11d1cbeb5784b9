/// A boot profile in `boot-scripts/profiles/`: an iPXE script template (`<name>.ipxe`), or a
/// declarative one (`<name>.profile`) that names a kernel, its initrds and its command line, which
/// vboot renders for iPXE or for GRUB (`DeclaredBoot`). The header declares a title and the
/// variables the profile reads, with defaults, so the API can list them:
///
///     #!ipxe
///     #: title Debian netboot installer
///     #: var mirror = http://deb.debian.org/debian -- the installer's package mirror
///     #: var preseed_url -- preseed file URL (unset: interactive install)
///
/// Either kind may name the upstream mirror its files come from, so `/assets/NAME/...` works
/// without copying anything (vboot fetches and caches it; a local copy or `--upstream NAME=URL`
/// wins):
///
///     #: upstream debian-12 = https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64
///     #: checksums debian-12 = https://deb.debian.org/debian/dists/bookworm/main/installer-amd64/current/images/SHA256SUMS
///
/// (a file of that upstream is cached only when the list names it with the digest it arrived with).
///
/// A declarative profile is header lines only (and `#` comments); each value is a template:
///
///     #: kernel {{assets}}/debian-12/linux
///     #: initrd {{assets}}/debian-12/initrd.gz    (repeatable, in order)
///     #: args console=ttyS0,115200n8 ---          (repeatable, joined with spaces)
///     #: ipxe LINE / #: grub LINE                 (a line only that loader runs, before the kernel)
public struct Profile: Hashable, Sendable {
    public struct Variable: Hashable, Sendable {
        public var name: String
        /// nil = unset unless the machine sets it (a Mustache section can test it).
        public var defaultValue: String?
        public var description: String
    }

    /// What a declarative profile boots; its values are templates.
    public struct Declaration: Hashable, Sendable {
        public var kernel: String
        public var initrds: [String] = []
        public var arguments: [String] = []
        public var ipxeLines: [String] = []
        public var grubLines: [String] = []
    }

    /// `#: upstream NAME = URL`: where `/assets/NAME/...` comes from when nothing else provides it;
    /// `#: checksums NAME = URL`: the SHA-256 list its files are checked against.
    public struct UpstreamDeclaration: Hashable, Sendable {
        public var name: String
        public var url: String
        public var checksums: String?

        public init(name: String, url: String, checksums: String? = nil) {
            self.name = name
            self.url = url
            self.checksums = checksums
        }
    }

    public var name: String
    public var title: String
    public var variables: [Variable]
    public var upstreams: [UpstreamDeclaration] = []
    public var source: String
    /// Set for a declarative profile, nil for an iPXE script.
    public var declaration: Declaration?

    public static let headerPrefix = "#:"
    public static let scriptExtension = ".ipxe"
    public static let declarativeExtension = ".profile"

    /// Profile names become file names and URL parts.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.first != "."
            && name.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || $0.properties.numericType != nil
                        || "-_.".unicodeScalars.contains($0))
            }
    }

    public struct HeaderError: Error, Hashable, Sendable, CustomStringConvertible {
        public var profile: String
        public var line: Int
        public var reason: String
        public var description: String { "profile \(profile), line \(line): \(reason)" }
    }

    /// Reads the header lines; the templates themselves are checked when compiled.
    public init(name: String, source: String, declarative: Bool = false) throws(HeaderError) {
        self.name = name
        self.source = source
        var title = name
        var variables: [Variable] = []
        var upstreams: [UpstreamDeclaration] = []
        var kernel: String?
        var declaration = Declaration(kernel: "")
        for (index, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            func failure(_ reason: String) -> HeaderError {
                HeaderError(profile: name, line: index + 1, reason: reason)
            }
            guard line.hasPrefix(Self.headerPrefix) else {
                if declarative, !line.allSatisfy(\.isWhitespace), !line.hasPrefix("#") {
                    throw failure("a declarative profile holds only #: lines and # comments")
                }
                continue
            }
            let body = line.dropFirst(Self.headerPrefix.count).trimmingWhitespace()
            let keyword = body.prefix { !$0.isWhitespace }
            let rest = body.dropFirst(keyword.count).trimmingWhitespace()
            if Self.declarationKeywords.contains(String(keyword)) {
                guard declarative else {
                    throw failure(
                        "\"\(keyword)\" belongs in a declarative profile (\(name)\(Self.declarativeExtension))")
                }
                guard !rest.isEmpty else { throw failure("\"\(keyword)\" needs a value") }
            }
            switch keyword {
            case "kernel":
                guard kernel == nil else { throw failure("a second kernel line") }
                kernel = rest
            case "initrd": declaration.initrds.append(rest)
            case "args": declaration.arguments.append(rest)
            case "ipxe": declaration.ipxeLines.append(rest)
            case "grub": declaration.grubLines.append(rest)
            case "title":
                title = rest
            case "upstream":
                guard let (upstream, url) = Self.nameAndURL(rest) else {
                    throw failure("upstream needs NAME = URL with an http:// or https:// URL")
                }
                guard !upstreams.contains(where: { $0.name == upstream }) else {
                    throw failure("a second upstream \(upstream)")
                }
                upstreams.append(UpstreamDeclaration(name: upstream, url: url))
            case "checksums":
                guard let (upstream, url) = Self.nameAndURL(rest) else {
                    throw failure("checksums needs NAME = URL of a SHA-256 list with an http:// or https:// URL")
                }
                guard let declared = upstreams.firstIndex(where: { $0.name == upstream }) else {
                    throw failure("checksums for \(upstream), which no upstream line above declares")
                }
                guard upstreams[declared].checksums == nil else {
                    throw failure("a second checksums line for \(upstream)")
                }
                upstreams[declared].checksums = url
            case "var":
                let (declared, description) = Self.split(rest, at: " -- ")
                let (rawName, rawDefault) = Self.split(declared, at: "=")
                let variable = rawName.trimmingWhitespace()
                guard Self.isVariableName(variable) else {
                    throw failure("\"\(variable)\" is not a variable name")
                }
                let value = rawDefault?.trimmingWhitespace()
                variables.append(
                    Variable(name: variable, defaultValue: value, description: description?.trimmingWhitespace() ?? ""))
            default:
                let expected =
                    declarative
                    ? "title, var, upstream, checksums, kernel, initrd, args, ipxe or grub"
                    : "title, var, upstream or checksums"
                throw failure("unknown header \"\(keyword)\" (expected \(expected))")
            }
        }
        if declarative {
            guard let kernel else {
                throw HeaderError(profile: name, line: 1, reason: "a declarative profile needs a #: kernel line")
            }
            declaration.kernel = kernel
            self.declaration = declaration
        }
        self.title = title
        self.variables = variables
        self.upstreams = upstreams
    }

    static let declarationKeywords: Set<String> = ["kernel", "initrd", "args", "ipxe", "grub"]

    /// One path segment under `/assets`: letters, digits, `-`, `_`, `.`, not starting with a dot.
    public static func isUpstreamName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && !text.hasPrefix(".")
            && text.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || $0.properties.numericType != nil
                        || "-_.".unicodeScalars.contains($0))
            }
    }

    /// `NAME = URL` of an `upstream` or `checksums` line.
    private static func nameAndURL(_ text: String) -> (String, String)? {
        let (rawName, rawURL) = split(text, at: "=")
        let name = rawName.trimmingWhitespace()
        guard let url = rawURL?.trimmingWhitespace(), isUpstreamName(name),
            url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(where: \.isWhitespace)
        else { return nil }
        return (name, url)
    }

    public static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_")
        }
    }

    private static func split(_ text: String, at separator: String) -> (String, String?) {
        guard let range = text.firstRange(of: separator) else { return (text, nil) }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }

    /// Defaults for the variables this profile declares.
    public var defaults: [String: String] {
        var values: [String: String] = [:]
        for variable in variables { values[variable.name] = variable.defaultValue }
        return values
    }
}

extension Substring {
    func trimmingWhitespace() -> String { String(self).trimmingWhitespace() }
}
