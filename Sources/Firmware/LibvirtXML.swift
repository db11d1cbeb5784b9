/// A libvirt XML document as written: markup the edit does not touch is written back byte for byte
/// (quotes, attribute order, whitespace, comments), so a diff of an injected domain shows only the edit.
///
/// Not FoundationXML: on Linux its `XMLDocument` moves namespace declarations in front of other
/// attributes, writes `<boot/>` as `<boot></boot>`, reports malformed input on stderr without throwing,
/// and crashes on an empty document. libvirt XML needs no DTD, so a small well-formedness checker suffices.
struct LibvirtXML: Hashable, Sendable {
    /// Everything before the root element (XML declaration, comments, doctype, whitespace), verbatim.
    var prolog: [Node]
    var root: Element
    /// Everything after the root element, verbatim.
    var epilog: [Node]

    enum Node: Hashable, Sendable {
        case element(Element)
        /// Character data as written, entity references not decoded.
        case text(String)
        /// Comment, CDATA section, processing instruction or doctype, written back verbatim.
        case markup(String)
    }

    struct Attribute: Hashable, Sendable {
        /// Whitespace before the name.
        var leading: String
        var name: String
        /// `=` with the whitespace around it.
        var equals: String
        var quote: Character
        /// The value as written between the quotes.
        var rawValue: String

        var value: String { LibvirtXML.decode(rawValue) }
    }

    struct Element: Hashable, Sendable {
        var name: String
        var attributes: [Attribute]
        /// Whitespace before `>` or `/>`.
        var trailing: String
        var children: [Node]
        /// Written as `<name/>`; only kept while the element has no children.
        var selfClosing: Bool
        /// The end tag as written (`</name >`); nil when self-closing or created here.
        var endTag: String?

        /// A new element in libvirt's own style: single quotes, `<name/>` when empty.
        init(_ name: String, attributes: [(String, String)] = [], text: String? = nil) {
            self.name = name
            self.attributes = attributes.map {
                Attribute(
                    leading: " ", name: $0.0, equals: "=", quote: "'", rawValue: LibvirtXML.escape($0.1, quote: "'"))
            }
            self.trailing = ""
            self.children = text.map { [.text(LibvirtXML.escape($0, quote: nil))] } ?? []
            self.selfClosing = text == nil
            self.endTag = nil
        }

        init(
            name: String, attributes: [Attribute], trailing: String, children: [Node], selfClosing: Bool,
            endTag: String?
        ) {
            self.name = name
            self.attributes = attributes
            self.trailing = trailing
            self.children = children
            self.selfClosing = selfClosing
            self.endTag = endTag
        }

        func attribute(_ name: String) -> String? {
            attributes.first { $0.name == name }?.value
        }

        mutating func setAttribute(_ name: String, _ value: String) {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                attributes[index].rawValue = LibvirtXML.escape(value, quote: attributes[index].quote)
            } else {
                attributes.append(
                    Attribute(
                        leading: " ", name: name, equals: "=", quote: "'",
                        rawValue: LibvirtXML.escape(value, quote: "'")))
            }
        }

        /// Removes the attribute and returns its value, if it was there.
        @discardableResult
        mutating func removeAttribute(_ name: String) -> String? {
            guard let index = attributes.firstIndex(where: { $0.name == name }) else { return nil }
            return attributes.remove(at: index).value
        }

        /// The decoded character data of the element (CDATA included, comments skipped).
        var text: String {
            children.map { node in
                switch node {
                case .text(let raw): LibvirtXML.decode(raw)
                case .markup(let raw) where raw.hasPrefix("<![CDATA["): String(raw.dropFirst(9).dropLast(3))
                case .element, .markup: ""
                }
            }.joined()
        }

        /// Replaces all children by `text`.
        mutating func setText(_ text: String) {
            children = [.text(LibvirtXML.escape(text, quote: nil))]
            selfClosing = false
        }

        /// Indices in `children` of the child elements called `name`, in document order.
        func indices(of name: String) -> [Int] {
            children.indices.filter { if case .element(let e) = children[$0] { e.name == name } else { false } }
        }

        /// Indices in `children` of all child elements, in document order.
        var elementIndices: [Int] {
            children.indices.filter { if case .element = children[$0] { true } else { false } }
        }

        /// The child element at `index` (an index from `indices(of:)` or `elementIndices`).
        func child(at index: Int) -> Element? {
            if case .element(let element) = children[index] { element } else { nil }
        }

        func firstChild(_ name: String) -> Element? {
            indices(of: name).first.flatMap { child(at: $0) }
        }

        /// Runs `body` on the child element at `index` and stores the result back; nil if it is not an element.
        @discardableResult
        mutating func updateChild<R, E: Error>(at index: Int, _ body: (inout Element) throws(E) -> R) throws(E) -> R? {
            guard case .element(var element) = children[index] else { return nil }
            let result = try body(&element)
            children[index] = .element(element)
            return result
        }

        /// Removes the child at `index` and the indentation before it, so no blank line is left behind.
        mutating func removeChild(at index: Int) {
            children.remove(at: index)
            if index > 0, case .text(let raw) = children[index - 1], raw.allSatisfy(\.isWhitespace) {
                children.remove(at: index - 1)
            }
        }

        /// The whitespace that precedes the first child element (newline + indentation), reused for inserts.
        private var indentation: String {
            guard let first = elementIndices.first, first > 0, case .text(let raw) = children[first - 1],
                raw.allSatisfy(\.isWhitespace)
            else { return "" }
            return raw
        }

        /// Inserts `element` right after the child element at `index` (after the last child element when
        /// nil), indented like its siblings.
        mutating func insertChild(_ element: Element, after index: Int?) {
            let indent = indentation
            selfClosing = false
            let position = (index ?? elementIndices.last).map { $0 + 1 } ?? children.count
            children.insert(contentsOf: [.text(indent), .element(element)].filter { $0 != .text("") }, at: position)
        }

        /// Inserts `element` right before the child element at `index`, indented like its siblings.
        mutating func insertChild(_ element: Element, before index: Int) {
            let indent = indentation
            children.insert(contentsOf: [.element(element), .text(indent)].filter { $0 != .text("") }, at: index)
        }

        /// Replaces the child element at `index`, keeping its place and indentation.
        mutating func replaceChild(at index: Int, with element: Element) {
            children[index] = .element(element)
        }

        var serialized: String {
            var out = "<\(name)"
            for attribute in attributes {
                out += "\(attribute.leading)\(attribute.name)\(attribute.equals)\(attribute.quote)"
                out += "\(attribute.rawValue)\(attribute.quote)"
            }
            out += trailing
            if selfClosing && children.isEmpty { return out + "/>" }
            out += ">"
            for child in children { out += LibvirtXML.serialize(child) }
            return out + (endTag ?? "</\(name)>")
        }
    }

    var serialized: String {
        (prolog.map(Self.serialize) + [root.serialized] + epilog.map(Self.serialize)).joined()
    }

    static func serialize(_ node: Node) -> String {
        switch node {
        case .element(let element): element.serialized
        case .text(let raw), .markup(let raw): raw
        }
    }

    /// Escapes character data (`quote` nil) or an attribute value delimited by `quote`. Newlines and tabs
    /// in attribute values become character references, since XML would normalize them to spaces.
    static func escape(_ value: String, quote: Character?) -> String {
        var out = ""
        for character in value {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">" where quote == nil: out += "&gt;"
            case "'" where quote == "'": out += "&apos;"
            case "\"" where quote == "\"": out += "&quot;"
            case "\n" where quote != nil: out += "&#10;"
            case "\r": out += "&#13;"
            case "\t" where quote != nil: out += "&#9;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Decodes the predefined entities and character references (the parser has checked they are valid).
    static func decode(_ raw: String) -> String {
        guard raw.contains("&") else { return raw }
        var out = ""
        var rest = Substring(raw)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let name = rest[rest.index(after: amp)..<semicolon]
            out += reference(name).map { String($0) } ?? String(rest[amp...semicolon])
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }

    /// The character an entity or character reference (without `&` and `;`) stands for.
    static func reference(_ name: Substring) -> Character? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default:
            guard name.hasPrefix("#") else { return nil }
            let number = name.dropFirst()
            let code = number.hasPrefix("x") ? UInt32(number.dropFirst(), radix: 16) : UInt32(number, radix: 10)
            guard let code, code != 0, let scalar = Unicode.Scalar(code) else { return nil }
            return Character(scalar)
        }
    }
}

// MARK: - Parsing

extension LibvirtXML {
    /// Parses and checks well-formedness: matching tags, one root, quoted unique attributes, known
    /// entities (libvirt XML has no DTD, so only the five predefined ones and character references).
    init(parsing xml: String) throws(LibvirtDomainError) {
        var parser = Parser(bytes: Array(xml.utf8))
        self = try parser.document()
    }

    /// Deepest element nesting accepted. libvirt's domains nest about 6 deep; parsing, editing and
    /// freeing the tree recurse per level, so a hostile file nested 200,000 deep would overflow
    /// the stack.
    static let maximumDepth = 256

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var depth = 0

        mutating func document() throws(LibvirtDomainError) -> LibvirtXML {
            var prolog: [Node] = []
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
                prolog.append(.markup("\u{FEFF}"))
                position = 3
            }
            while true {
                let whitespace = skipWhitespace()
                if !whitespace.isEmpty { prolog.append(.text(whitespace)) }
                guard position < bytes.count else { throw error(at: position, "no root element") }
                if starts(with: "<?") {
                    prolog.append(.markup(try until("?>", what: "processing instruction")))
                } else if starts(with: "<!--") {
                    prolog.append(.markup(try comment()))
                } else if starts(with: "<!DOCTYPE") {
                    prolog.append(.markup(try doctype()))
                } else if starts(with: "<") {
                    break
                } else {
                    throw error(at: position, "text before the root element")
                }
            }
            let root = try element()
            var epilog: [Node] = []
            while position < bytes.count {
                let whitespace = skipWhitespace()
                if !whitespace.isEmpty { epilog.append(.text(whitespace)) }
                guard position < bytes.count else { break }
                if starts(with: "<?") {
                    epilog.append(.markup(try until("?>", what: "processing instruction")))
                } else if starts(with: "<!--") {
                    epilog.append(.markup(try comment()))
                } else {
                    throw error(at: position, "content after the end of the root element </\(root.name)>")
                }
            }
            return LibvirtXML(prolog: prolog, root: root, epilog: epilog)
        }

        /// At `<name`: the element with its content and end tag.
        mutating func element() throws(LibvirtDomainError) -> Element {
            let start = position
            depth += 1
            defer { depth -= 1 }
            guard depth <= LibvirtXML.maximumDepth else {
                throw error(at: start, "elements nested deeper than \(LibvirtXML.maximumDepth)")
            }
            position += 1
            let name = try self.name()
            var attributes: [Attribute] = []
            while true {
                let leading = skipWhitespace()
                guard position < bytes.count else { throw error(at: start, "start tag <\(name) is not closed") }
                if starts(with: "/>") {
                    position += 2
                    return Element(
                        name: name, attributes: attributes, trailing: leading, children: [], selfClosing: true,
                        endTag: nil)
                }
                if bytes[position] == UInt8(ascii: ">") {
                    position += 1
                    let (children, endTag) = try content(of: name, openedAt: start)
                    return Element(
                        name: name, attributes: attributes, trailing: leading, children: children, selfClosing: false,
                        endTag: endTag)
                }
                guard !leading.isEmpty else {
                    throw error(at: position, "expected whitespace, '>' or '/>' in <\(name)>")
                }
                let attributeStart = position
                let attributeName = try self.name()
                guard !attributes.contains(where: { $0.name == attributeName }) else {
                    throw error(at: attributeStart, "attribute \(attributeName) appears twice in <\(name)>")
                }
                var equals = skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else {
                    throw error(at: position, "expected '=' after attribute \(attributeName) in <\(name)>")
                }
                position += 1
                equals += "=" + skipWhitespace()
                guard position < bytes.count,
                    bytes[position] == UInt8(ascii: "'") || bytes[position] == UInt8(ascii: "\"")
                else { throw error(at: position, "the value of attribute \(attributeName) is not quoted") }
                let quote = bytes[position]
                position += 1
                let valueStart = position
                while position < bytes.count, bytes[position] != quote {
                    if bytes[position] == UInt8(ascii: "<") {
                        throw error(at: position, "'<' in the value of attribute \(attributeName)")
                    }
                    position += 1
                }
                guard position < bytes.count else {
                    throw error(at: valueStart, "the value of attribute \(attributeName) is not closed")
                }
                try checkReferences(valueStart..<position)
                attributes.append(
                    Attribute(
                        leading: leading, name: attributeName, equals: equals, quote: Character(Unicode.Scalar(quote)),
                        rawValue: string(valueStart..<position)))
                position += 1
            }
        }

        /// After the start tag's `>`: children up to and including the end tag.
        mutating func content(of name: String, openedAt start: Int) throws(LibvirtDomainError) -> ([Node], String) {
            var children: [Node] = []
            while true {
                guard position < bytes.count else {
                    throw error(at: start, "<\(name)> is not closed (end of document reached)")
                }
                if starts(with: "</") {
                    let endStart = position
                    position += 2
                    let endName = try self.name()
                    _ = skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else {
                        throw error(at: position, "expected '>' to close </\(endName)")
                    }
                    position += 1
                    guard endName == name else {
                        throw error(
                            at: endStart,
                            "</\(endName)> does not match <\(name)> opened at line \(lineAndColumn(start).line)")
                    }
                    return (children, string(endStart..<position))
                } else if starts(with: "<!--") {
                    children.append(.markup(try comment()))
                } else if starts(with: "<![CDATA[") {
                    children.append(.markup(try until("]]>", what: "CDATA section")))
                } else if starts(with: "<?") {
                    children.append(.markup(try until("?>", what: "processing instruction")))
                } else if starts(with: "<!") {
                    throw error(at: position, "unexpected declaration inside <\(name)>")
                } else if bytes[position] == UInt8(ascii: "<") {
                    children.append(.element(try element()))
                } else {
                    let textStart = position
                    while position < bytes.count, bytes[position] != UInt8(ascii: "<") { position += 1 }
                    try checkReferences(textStart..<position)
                    children.append(.text(string(textStart..<position)))
                }
            }
        }

        mutating func comment() throws(LibvirtDomainError) -> String {
            let start = position
            let text = try until("-->", what: "comment")
            // XML 1.0 §2.5: "--" must not occur inside a comment.
            if text.dropFirst(4).dropLast(3).contains("--") { throw error(at: start, "'--' inside a comment") }
            return text
        }

        /// `<!DOCTYPE …>` including an internal subset in brackets, kept verbatim.
        mutating func doctype() throws(LibvirtDomainError) -> String {
            let start = position
            var depth = 0
            var quote: UInt8?
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                    quote = byte
                } else if byte == UInt8(ascii: "[") {
                    depth += 1
                } else if byte == UInt8(ascii: "]") {
                    depth -= 1
                } else if byte == UInt8(ascii: ">"), depth == 0 {
                    return string(start..<position)
                }
            }
            throw error(at: start, "<!DOCTYPE is not closed")
        }

        /// From the current position through `terminator`, verbatim.
        mutating func until(_ terminator: String, what: String) throws(LibvirtDomainError) -> String {
            let start = position
            let end = Array(terminator.utf8)
            while position + end.count <= bytes.count {
                if bytes[position..<position + end.count].elementsEqual(end) {
                    position += end.count
                    return string(start..<position)
                }
                position += 1
            }
            throw error(at: start, "\(what) is not closed (no '\(terminator)')")
        }

        /// XML 1.0 §2.3 Name, simplified: non-ASCII bytes are accepted as name characters.
        mutating func name() throws(LibvirtDomainError) -> String {
            let start = position
            func isStart(_ byte: UInt8) -> Bool {
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
                    || byte == UInt8(ascii: ":") || byte >= 0x80
            }
            func isName(_ byte: UInt8) -> Bool {
                isStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: ".")
            }
            guard position < bytes.count, isStart(bytes[position]) else { throw error(at: position, "expected a name") }
            while position < bytes.count, isName(bytes[position]) { position += 1 }
            return string(start..<position)
        }

        /// Every `&` in `range` must start a predefined entity or a character reference.
        func checkReferences(_ range: Range<Int>) throws(LibvirtDomainError) {
            var index = range.lowerBound
            while index < range.upperBound {
                defer { index += 1 }
                guard bytes[index] == UInt8(ascii: "&") else { continue }
                guard let semicolon = bytes[index..<range.upperBound].firstIndex(of: UInt8(ascii: ";")),
                    semicolon - index <= 12
                else { throw error(at: index, "'&' that does not start a reference (write &amp;)") }
                let name = string(index + 1..<semicolon)
                guard LibvirtXML.reference(Substring(name)) != nil else {
                    throw error(at: index, "undefined entity &\(name); (libvirt XML has no DTD)")
                }
                index = semicolon
            }
        }

        mutating func skipWhitespace() -> String {
            let start = position
            while position < bytes.count,
                [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(
                    bytes[position])
            {
                position += 1
            }
            return string(start..<position)
        }

        func starts(with prefix: String) -> Bool {
            bytes[position...].starts(with: prefix.utf8)
        }

        func string(_ range: Range<Int>) -> String {
            String(decoding: bytes[range], as: UTF8.self)
        }

        func lineAndColumn(_ offset: Int) -> (line: Int, column: Int) {
            let before = bytes[..<min(offset, bytes.count)]
            let line = before.count { $0 == UInt8(ascii: "\n") } + 1
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            return (line, offset - lineStart + 1)
        }

        func error(at offset: Int, _ detail: String) -> LibvirtDomainError {
            let (line, column) = lineAndColumn(offset)
            return .malformedXML(line: line, column: column, detail: detail)
        }
    }
}
