/// A column value as both backends see it: the schema uses only text and 64-bit integers.
enum StoreValue: Hashable, Sendable {
    case text(String)
    case integer(Int64)
    case null

    init(_ text: String?) { self = text.map(StoreValue.text) ?? .null }
    init(_ number: Int64) { self = .integer(number) }

    var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}

/// A row read back from either backend, by column name.
struct StoreRow {
    let value: (String) -> StoreValue

    func text(_ column: String) throws(StoreError) -> String {
        guard let text = value(column).text else { throw .corrupt("column \(column) is not text") }
        return text
    }

    func optionalText(_ column: String) -> String? { value(column).text }

    func integer(_ column: String) throws(StoreError) -> Int64 {
        guard let number = value(column).integer else { throw .corrupt("column \(column) is not an integer") }
        return number
    }
}
