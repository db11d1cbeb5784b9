/// Why an OVMF VARS file (firmware volume + EDK2 variable store) could not be read or rewritten.
public enum VariableStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `field` needs `length` bytes at `offset`, past the end of the file or of the variable store.
    case truncated(field: String, offset: Int, length: Int)
    /// `field` at `offset` holds a value the format does not allow.
    case badValue(field: String, offset: Int, detail: String)
    /// A variable name that cannot be stored (empty, or containing NUL).
    case invalidName(String)
    /// The live variables need `needed` bytes but the store has room for `available`.
    case storeFull(needed: Int, available: Int)

    public var description: String {
        switch self {
        case .truncated(let field, let offset, let length):
            "\(field): \(length) bytes at offset 0x\(String(offset, radix: 16)) run past the end"
        case .badValue(let field, let offset, let detail):
            "\(field) at offset 0x\(String(offset, radix: 16)): \(detail)"
        case .invalidName(let name):
            "invalid variable name \(String(reflecting: name))"
        case .storeFull(let needed, let available):
            "variables need \(needed) bytes but the store holds \(available): \(needed - available) bytes too many"
        }
    }

    init(_ error: ByteCursor.OutOfBounds) {
        self = .truncated(field: error.field, offset: error.offset, length: error.length)
    }
}
