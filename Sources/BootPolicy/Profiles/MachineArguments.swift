/// A machine's variables as kernel arguments, `vboot.NAME=VALUE` each, so the system it boots
/// (a diskless image's `vboot-machine` unit) knows what the inventory knows about it. Names are
/// letters, digits and `_`; values are percent-encoded outside a safe set, so any value stays one
/// word of the command line and arrives byte for byte.
public enum MachineArguments {
    public static let prefix = "vboot."
    /// The kernel's whole command line is 2 KiB on x86: the variables take at most half.
    public static let limit = 1024

    /// Sorted by name; a name that is not `[A-Za-z0-9_]+` is left out, and so are the variables
    /// past `limit`.
    public static func words(_ variables: [String: String]) -> String {
        var words: [String] = []
        var length = 0
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) where isValidName(name) && !value.isEmpty {
            let word = prefix + name + "=" + encode(value)
            guard length + word.count + 1 <= limit else { break }
            words.append(word)
            length += word.count + 1
        }
        return words.joined(separator: " ")
    }

    /// The variables in a command line (`/proc/cmdline`): `words`' inverse.
    public static func parse(_ commandLine: String) -> [String: String] {
        var variables: [String: String] = [:]
        for word in commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix(prefix) {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let name = String(word[word.index(word.startIndex, offsetBy: prefix.count)..<equals])
            guard isValidName(name), let value = decode(word[word.index(after: equals)...]) else { continue }
            variables[name] = value
        }
        return variables
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Kept as they are; everything else is `%XX`.
    static let safe = Set("._~:/,+@-".utf8)

    static func encode(_ value: String) -> String {
        var encoded = ""
        for byte in value.utf8 {
            if isAlphanumeric(byte) || safe.contains(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let high = utf8.index(after: index)
                guard high < utf8.endIndex, utf8.index(after: high) < utf8.endIndex,
                    let value = UInt8(String(decoding: utf8[high...utf8.index(after: high)], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
                index = utf8.index(high, offsetBy: 2)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
