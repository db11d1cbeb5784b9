/// What a field of a write does: absent leaves it, `null` clears it, a value sets it.
public enum FieldChange<Value: Hashable & Sendable>: Hashable, Sendable {
    case unchanged
    case clear
    case set(Value)

    public var value: Value? { if case .set(let value) = self { value } else { nil } }
}

/// The body of `POST /machines` (`mac` required) and `PATCH /machines/{id}`. An unknown field is
/// refused, not ignored, so a typo never silently does nothing. The server checks the values.
public struct MachineWrite: Codable, Hashable, Sendable {
    /// The fields a write may name, as the JSON and the config file's `machines:` write them.
    public static let fields = textFields.keys.sorted() + ["variables"]

    public var mac: FieldChange<String> = .unchanged
    public var uuid: FieldChange<String> = .unchanged
    public var serial: FieldChange<String> = .unchanged
    public var hostname: FieldChange<String> = .unchanged
    public var profile: FieldChange<String> = .unchanged
    public var variables: FieldChange<[String: String]> = .unchanged
    public var nextBoot: FieldChange<String> = .unchanged
    public var onceCompletion: FieldChange<String> = .unchanged
    public var proxyStrategy: FieldChange<String> = .unchanged
    public var loader: FieldChange<String> = .unchanged
    public var address: FieldChange<String> = .unchanged

    public init() {}

    public var isEmpty: Bool { self == MachineWrite() }

    /// A text field by its JSON name (`fields`, except `variables`).
    public subscript(text field: String) -> FieldChange<String> {
        get { Self.textFields[field].map { self[keyPath: $0] } ?? .unchanged }
        set { if let path = Self.textFields[field] { self[keyPath: path] = newValue } }
    }

    static let textFields: [String: WritableKeyPath<MachineWrite, FieldChange<String>> & Sendable] = [
        "mac": \.mac, "uuid": \.uuid, "serial": \.serial, "hostname": \.hostname, "profile": \.profile,
        "next_boot": \.nextBoot, "once_completion": \.onceCompletion, "proxy_strategy": \.proxyStrategy,
        "loader": \.loader, "address": \.address,
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !Self.fields.contains($0) }) {
            throw APIContractError(
                "unknown field \"\(unknown)\"; known: \(Self.fields.sorted().joined(separator: ", "))")
        }
        for (name, path) in Self.textFields {
            let key = AnyKey(name)
            guard container.contains(key) else { continue }
            if try container.decodeNil(forKey: key) {
                self[keyPath: path] = .clear
            } else {
                guard let text = try? container.decode(String.self, forKey: key) else {
                    throw APIContractError("\(name): expected a string or null")
                }
                self[keyPath: path] = .set(text)
            }
        }
        let key = AnyKey("variables")
        guard container.contains(key) else { return }
        guard try !container.decodeNil(forKey: key),
            let object = try? container.nestedContainer(keyedBy: AnyKey.self, forKey: key)
        else {
            throw APIContractError("variables: expected an object of strings")
        }
        var variables: [String: String] = [:]
        for name in object.allKeys {
            guard let text = try? object.decode(String.self, forKey: name) else {
                throw APIContractError("variables.\(name.stringValue): expected a string")
            }
            variables[name.stringValue] = text
        }
        self.variables = .set(variables)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        for (name, path) in Self.textFields.sorted(by: { $0.key < $1.key }) {
            switch self[keyPath: path] {
            case .unchanged: continue
            case .clear: try container.encodeNil(forKey: AnyKey(name))
            case .set(let text): try container.encode(text, forKey: AnyKey(name))
            }
        }
        switch variables {
        case .unchanged: break
        case .clear: try container.encodeNil(forKey: AnyKey("variables"))
        case .set(let variables): try container.encode(variables, forKey: AnyKey("variables"))
        }
    }
}
