/// An iPXE script template in `boot-scripts/profiles/<name>.ipxe`. Its header declares a title
/// and the variables it reads, with defaults, so the API can list them:
///
///     #!ipxe
///     #: title Debian netboot installer
///     #: var mirror = http://deb.debian.org/debian -- the installer's package mirror
///     #: var preseed_url -- preseed file URL (unset: interactive install)
public struct Profile: Hashable, Sendable {
    public struct Variable: Hashable, Sendable {
        public var name: String
        /// nil = unset unless the machine sets it (a Mustache section can test it).
        public var defaultValue: String?
        public var description: String
    }

    public var name: String
    public var title: String
    public var variables: [Variable]
    public var source: String

    public static let headerPrefix = "#:"

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

    /// Reads the header lines; the template itself is checked when rendered.
    public init(name: String, source: String) throws(HeaderError) {
        self.name = name
        self.source = source
        var title = name
        var variables: [Variable] = []
        for (index, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard line.hasPrefix(Self.headerPrefix) else { continue }
            let body = line.dropFirst(Self.headerPrefix.count).trimmingWhitespace()
            let keyword = body.prefix { !$0.isWhitespace }
            let rest = body.dropFirst(keyword.count).trimmingWhitespace()
            switch keyword {
            case "title":
                title = rest
            case "var":
                let (declaration, description) = Self.split(rest, at: " -- ")
                let (rawName, rawDefault) = Self.split(declaration, at: "=")
                let variable = rawName.trimmingWhitespace()
                guard Self.isVariableName(variable) else {
                    throw HeaderError(profile: name, line: index + 1, reason: "\"\(variable)\" is not a variable name")
                }
                let value = rawDefault?.trimmingWhitespace()
                variables.append(
                    Variable(name: variable, defaultValue: value, description: description?.trimmingWhitespace() ?? ""))
            default:
                throw HeaderError(
                    profile: name, line: index + 1, reason: "unknown header \"\(keyword)\" (expected title or var)")
            }
        }
        self.title = title
        self.variables = variables
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
