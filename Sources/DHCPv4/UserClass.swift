/// RFC 3004 User Class (option 77). The RFC form is a list of length-prefixed strings; iPXE and
/// many others send one raw string instead. `parse` accepts both: the payload is read as the RFC
/// form only when its length prefixes cover it exactly.
public struct UserClass: Hashable, Sendable {
    public var classes: [[UInt8]]
    public var isRFC3004Encoded: Bool

    public init(classes: [[UInt8]], isRFC3004Encoded: Bool) {
        self.classes = classes
        self.isRFC3004Encoded = isRFC3004Encoded
    }

    public init(parsing data: [UInt8]) {
        var classes: [[UInt8]] = []
        var index = 0
        while index < data.count {
            let length = Int(data[index])
            guard length > 0, index + 1 + length <= data.count else {
                self.init(classes: [data], isRFC3004Encoded: false)
                return
            }
            classes.append(Array(data[(index + 1)..<(index + 1 + length)]))
            index += 1 + length
        }
        self.init(classes: classes.isEmpty ? [data] : classes, isRFC3004Encoded: !classes.isEmpty)
    }

    public func encode() -> [UInt8] {
        isRFC3004Encoded ? classes.flatMap { [UInt8(min($0.count, 255))] + $0.prefix(255) } : (classes.first ?? [])
    }

    public var strings: [String] { classes.map { String(decoding: $0, as: UTF8.self) } }

    public func contains(_ name: String) -> Bool { strings.contains(name) }
}
