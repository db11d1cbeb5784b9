import Mustache

/// The values a boot script template sees. Values a client sent are reduced to a safe character
/// set first: they land inside an iPXE script, where a newline would start a new command.
public struct BootScriptContext: Sendable, Hashable {
    public var values: [String: String]

    /// Query parameters iPXE can send (`${uuid}`, `${serial}`, ...), accepted from the request.
    public static let clientKeys = [
        "uuid", "serial", "manufacturer", "product", "asset", "arch", "platform", "hostname",
    ]

    public init(mac: String, serverURL: String, query: [String: String]) {
        var values: [String: String] = [:]
        for key in Self.clientKeys { values[key] = query[key].map { Self.sanitize($0) } ?? "" }
        values["mac"] = mac
        values["server"] = serverURL
        values["assets"] = serverURL + "/assets"
        values["ipxe"] = serverURL + "/ipxe"
        self.values = values
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

    public init(source: String, name: String) throws(TemplateError) {
        self.name = name
        do {
            template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + source)
        } catch {
            throw TemplateError(name: name, reason: "\(error)")
        }
    }

    public func render(_ context: BootScriptContext) -> String { template.render(context.values) }
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
