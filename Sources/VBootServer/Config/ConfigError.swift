/// A config file vboot cannot use: where and why, as `file:line:column: reason`.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var reason: String

    public var description: String { "\(path):\(line):\(column): \(reason)" }
}
