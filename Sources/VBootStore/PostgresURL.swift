import Foundation

/// `postgres://user:password@host:port/database?sslmode=disable&schema=NAME` (also
/// `postgresql://`; `?host=/run/postgresql` for a Unix socket). `schema` is vboot's: the tables
/// live in that schema, so one database can hold several independent inventories (tests do).
public struct PostgresURL: Hashable, Sendable, CustomStringConvertible {
    public enum TLSMode: String, Hashable, Sendable { case disable, prefer, require }

    public var host: String?
    public var socketPath: String?
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var schema: String?

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws(ParseError) {
        guard let components = URLComponents(string: text),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw ParseError(description: "\(text) is not a postgres:// URL")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set<String> = ["sslmode", "schema", "host"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw ParseError(
                description: "unknown parameter \(unknown) in the database URL (known: sslmode, schema, host)")
        }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 }
        if let socket = query["host"] {
            guard socket.hasPrefix("/") else {
                throw ParseError(description: "host=\(socket) in the database URL must be a socket directory")
            }
            socketPath =
                socket.hasSuffix(".s.PGSQL.\(components.port ?? 5432)")
                ? socket : socket + "/.s.PGSQL.\(components.port ?? 5432)"
        }
        if host == nil && socketPath == nil { host = "localhost" }
        port = components.port ?? 5432
        user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
        let mode = query["sslmode"] ?? "prefer"
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw ParseError(description: "sslmode=\(mode): expected disable, prefer or require")
        }
        if let schema = query["schema"] {
            guard !schema.isEmpty,
                schema.unicodeScalars.allSatisfy({
                    $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_")
                })
            else {
                throw ParseError(description: "schema=\(schema): letters, digits and _ only")
            }
            self.schema = schema.lowercased()
        }
    }

    /// For logs: never the password.
    public var description: String {
        let place = socketPath ?? "\(host ?? "localhost"):\(port)"
        return "postgres://\(user)@\(place)/\(database)" + (schema.map { " schema \($0)" } ?? "")
    }
}
