import Mustache

/// The values a boot script template sees. Values a client sent are reduced to a safe character
/// set first: they land inside an iPXE script, where a newline would start a new command.
public struct BootScriptContext: Sendable, Hashable {
    public var values: [String: String]

    /// Query parameters iPXE can send (`${uuid}`, `${serial}`, ...), accepted from the request.
    public static let clientKeys = [
        "uuid", "serial", "manufacturer", "product", "asset", "arch", "platform", "hostname",
    ]

    /// - bootToken: this render's credential for the boot it starts (vboot's `BootTokens`).
    public init(mac: String, serverURL: String, query: [String: String], bootToken: String? = nil) {
        var values: [String: String] = [:]
        for key in Self.clientKeys { values[key] = query[key].map { Self.sanitize($0) } ?? "" }
        values["mac"] = mac
        values["boot_token"] = bootToken ?? ""
        values["server"] = serverURL
        values["server_host"] = Self.host(of: serverURL)
        values["assets"] = serverURL + "/assets"
        values["ipxe"] = serverURL + "/ipxe"
        self.values = values
    }

    /// `http://10.0.0.2:8080` → `10.0.0.2`: where a kernel argument wants the server alone
    /// (`nbdroot=`).
    static func host(of url: String) -> String {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        let authority = rest.prefix { $0 != "/" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.prefix { $0 != ":" })
    }

    /// Letters, digits and `-_.:,/+@`; a space becomes `_` (a value rendered into a kernel line
    /// must stay one argument: `serial=ABC init=/bin/sh` would add one); everything else is
    /// dropped.
    static func sanitize(_ text: String, limit: Int = 128) -> String {
        String(
            text.unicodeScalars.compactMap { scalar -> Unicode.Scalar? in
                guard scalar.isASCII else { return nil }
                if scalar == " " { return "_" }
                let kept =
                    scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                    || "-_.:,/+@".unicodeScalars.contains(scalar)
                return kept ? scalar : nil
            }.prefix(limit).map(Character.init))
    }
}

/// A parsed iPXE script template. Mustache's `{{...}}` is vboot's; iPXE's `${...}` passes
/// through untouched. Output is plain text: nothing is HTML-escaped. Parse once, render per
/// request: parsing costs ten times what rendering does.
public struct BootScriptTemplate: Sendable {
    public struct TemplateError: Error, CustomStringConvertible {
        public var name: String
        public var reason: String
        public var description: String { "template \(name): \(reason)" }
    }

    public let name: String
    private let template: MustacheTemplate

    /// Deepest section nesting accepted. Mustache's parser recurses once per section, so a file
    /// nested tens of thousands deep overflowed the stack (found by FuzzBootScript); boot scripts
    /// nest a few levels.
    public static let maximumNesting = 64

    public init(source: String, name: String) throws(TemplateError) {
        self.name = name
        guard Self.deepestNesting(in: source) <= Self.maximumNesting else {
            throw TemplateError(name: name, reason: "sections nested deeper than \(Self.maximumNesting)")
        }
        do {
            template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
        } catch {
            throw TemplateError(name: name, reason: "\(error)")
        }
    }

    public func render(_ context: BootScriptContext) -> String { template.render(context.values) }

    /// How deep the tags that open a level (`#` section, `^` inverted, `$` block, `<` parent)
    /// nest, following `{{=<% %>=}}` delimiter changes as Mustache does.
    static func deepestNesting(in source: String) -> Int {
        let bytes = Array(source.utf8)
        var open = Array("{{".utf8)
        var close = Array("}}".utf8)
        var index = 0
        var depth = 0
        var deepest = 0
        while let start = bytes.firstOffset(of: open, from: index) {
            guard let end = bytes.firstOffset(of: close, from: start + open.count) else { break }
            let tag = bytes[(start + open.count)..<end].drop { $0 == UInt8(ascii: " ") }
            index = end + close.count
            switch tag.first {
            case UInt8(ascii: "#"), UInt8(ascii: "^"), UInt8(ascii: "$"), UInt8(ascii: "<"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "/"):
                depth = max(depth - 1, 0)
            case UInt8(ascii: "=") where tag.count > 2 && tag.last == UInt8(ascii: "="):
                let delimiters = tag.dropFirst().dropLast().split(separator: UInt8(ascii: " "))
                if delimiters.count == 2 {
                    open = Array(delimiters[0])
                    close = Array(delimiters[1])
                }
            default:
                break
            }
        }
        return deepest
    }
}

extension [UInt8] {
    fileprivate func firstOffset(of needle: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start <= count - needle.count else { return nil }
        return (start...(count - needle.count)).first { self[$0..<$0 + needle.count].elementsEqual(needle) }
    }
}

public enum BootScriptRenderer {
    public typealias TemplateError = BootScriptTemplate.TemplateError

    /// Parses and renders in one step (tests, one-off renders).
    public static func render(
        template source: String, name: String, context: BootScriptContext
    ) throws(TemplateError) -> String {
        try BootScriptTemplate(source: source, name: name).render(context)
    }
}
