import BootPolicy
import DHCPv4

/// One `vboot serve` setting, described once: its flag, its value's shape, its default, whether a
/// reload applies it, its help, and how a value is checked and put into the configuration. The
/// config file's reader, the command's flags, the reload's restart warning and the README's
/// settings table all come from `SettingKey.setting`.
public struct Setting: Sendable {
    /// How values are written: one value; a list (a YAML list or one value; the flag repeats);
    /// KEY=VALUE pairs (a YAML mapping; the flag repeats).
    public enum Form: Sendable { case single, list, pairs }

    /// Turns the values given (already split, one per list item or pair) into configuration.
    typealias Apply = @Sendable ([String], inout SettingTarget) throws(SettingError) -> Void

    /// The long flag, without its dashes.
    public let flag: String
    /// The flag's value in help: `PORT`, `DIR`, `FAMILY=STRATEGY`.
    public let valueName: String
    public let form: Form
    /// What applies when the setting is not given (the README's default column).
    public let `default`: SettingDefault
    /// A reload (SIGHUP, or the file changing) applies it; otherwise it waits for a restart.
    public let reloadable: Bool
    public let help: String
    /// A valid value, for help and for the tests that walk every setting.
    public let example: String
    /// Which relative paths in the config file are relative to the file's directory.
    let paths: PathRule
    let apply: Apply

    init(
        flag: String, valueName: String, form: Form = .single, default: SettingDefault, reloadable: Bool = false,
        help: String, example: String, paths: PathRule = .none, apply: @escaping Apply
    ) {
        self.flag = flag
        self.valueName = valueName
        self.form = form
        self.default = `default`
        self.reloadable = reloadable
        self.help = help
        self.example = example
        self.paths = paths
        self.apply = apply
    }
}

/// A setting's default: a value it could be given (`ServeSettingsTests` checks that giving it
/// changes nothing), or words for what happens without it.
public enum SettingDefault: Sendable, Hashable {
    case value(String)
    case described(String)

    /// As the README writes it: a value in backticks, words as they are.
    public var markdown: String {
        switch self {
        case .value(let value): "`\(value)`"
        case .described(let words): words
        }
    }
}

/// Which config file values are paths relative to the file's directory.
enum PathRule: Sendable {
    case none
    /// The value is a path.
    case path
    /// The value is a path unless it is a URL (`database`: an SQLite file or `postgres://`).
    case pathUnlessURL
}

/// Why a value was refused, without saying where it came from: the config file adds the key and
/// its line, the flags add the flag.
public struct SettingError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// What settings write into: the configuration, and the parts that are only complete once every
/// setting is in (the pool needs the listen address; a TLS certificate needs its key).
struct SettingTarget {
    var configuration: ServerConfiguration
    var pool = PoolSettings()
    var apiTLSCertificate: String?
    var apiTLSKey: String?
}

// MARK: Value readers

extension Setting {
    typealias Path<Value> = WritableKeyPath<SettingTarget, Value> & Sendable

    static func number(_ text: String, in range: ClosedRange<Int>) throws(SettingError) -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw SettingError("\"\(text)\" is not a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// The last of the values given (the flag may repeat; the last wins).
    static func last(_ values: [String]) -> String { values.last ?? "" }

    static func integer(_ range: ClosedRange<Int>, _ path: Path<Int>) -> Apply {
        { values, target throws(SettingError) in target[keyPath: path] = try number(last(values), in: range) }
    }

    static func seconds(_ range: ClosedRange<Int>, _ path: Path<Duration>) -> Apply {
        { values, target throws(SettingError) in target[keyPath: path] = .seconds(try number(last(values), in: range)) }
    }

    /// Written in MiB, kept in bytes.
    static func mebibytes(_ range: ClosedRange<Int>, _ path: Path<Int>) -> Apply {
        { values, target throws(SettingError) in target[keyPath: path] = try number(last(values), in: range) << 20 }
    }

    static func rate(_ range: ClosedRange<Int>, _ path: Path<Double>) -> Apply {
        { values, target throws(SettingError) in target[keyPath: path] = Double(try number(last(values), in: range)) }
    }

    static func text(_ path: Path<String?>) -> Apply {
        { values, target in target[keyPath: path] = last(values) }
    }

    static func text(_ path: Path<String>) -> Apply {
        { values, target in target[keyPath: path] = last(values) }
    }

    static func choice<T: RawRepresentable & CaseIterable & Sendable>(_ path: Path<T>) -> Apply
    where T.RawValue == String {
        { values, target throws(SettingError) in
            let text = last(values)
            guard let value = T(rawValue: text) else {
                throw SettingError(
                    "\"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            target[keyPath: path] = value
        }
    }

    static func parsed<T>(_ expected: String, _ make: @escaping @Sendable (String) -> T?, _ path: Path<T?>) -> Apply {
        { values, target throws(SettingError) in target[keyPath: path] = try item(last(values), expected, make) }
    }

    static func list<T>(_ expected: String, _ make: @escaping @Sendable (String) -> T?, _ path: Path<[T]>) -> Apply {
        { values, target throws(SettingError) in
            var items: [T] = []
            for value in values { items.append(try item(value, expected, make)) }
            target[keyPath: path] = items
        }
    }

    static func list<T>(_ expected: String, _ make: @escaping @Sendable (String) -> T?, _ path: Path<[T]?>) -> Apply {
        { values, target throws(SettingError) in
            var items: [T] = []
            for value in values { items.append(try item(value, expected, make)) }
            target[keyPath: path] = items
        }
    }

    /// Repeated `KEY=VALUE`-like values into one dictionary (the last value for a key wins).
    static func dictionary<T>(
        _ expected: String, _ make: @escaping @Sendable (String) -> (key: String, value: T)?, _ path: Path<[String: T]>
    ) -> Apply {
        { values, target throws(SettingError) in
            var items: [String: T] = [:]
            for value in values {
                let pair = try item(value, expected, make)
                items[pair.key] = pair.value
            }
            target[keyPath: path] = items
        }
    }

    static func item<T>(_ text: String, _ expected: String, _ make: (String) -> T?) throws(SettingError) -> T {
        guard let value = make(text) else { throw SettingError("\"\(text)\" is not \(expected)") }
        return value
    }
}
