/// Versioned schema. A migration is applied once, in order, inside a transaction, and recorded in
/// `schema_migrations`; a database newer than this binary refuses to start instead of guessing.
enum Schema {
    enum Dialect: Sendable { case sqlite, postgres }

    struct Migration: Sendable {
        var version: Int
        var name: String
        var statements: @Sendable (Dialect) -> [String]
    }

    static let bookkeeping = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
        """

    static let migrations: [Migration] = [
        Migration(version: 1, name: "machines and boot events") { dialect in
            let serial = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
            return [
                """
                CREATE TABLE machines (
                    mac TEXT PRIMARY KEY,
                    uuid TEXT UNIQUE,
                    serial TEXT UNIQUE,
                    hostname TEXT UNIQUE,
                    profile TEXT,
                    variables TEXT NOT NULL DEFAULT '{}',
                    next_boot TEXT NOT NULL,
                    once_completion TEXT NOT NULL DEFAULT 'callback',
                    once_fetches INTEGER NOT NULL DEFAULT 0,
                    once_token TEXT,
                    proxy_strategy TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE boot_events (
                    id \(serial),
                    mac TEXT,
                    address TEXT,
                    at BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    details TEXT NOT NULL,
                    server TEXT NOT NULL)
                """,
                "CREATE INDEX boot_events_by_mac ON boot_events (mac, id)",
                "CREATE INDEX boot_events_by_time ON boot_events (at)",
            ]
        },
        Migration(version: 2, name: "leases and address reservations") { _ in
            [
                // One row per address: the primary key is what keeps two servers from handing one
                // address to two machines.
                """
                CREATE TABLE leases (
                    address TEXT PRIMARY KEY,
                    mac TEXT,
                    state TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    hostname TEXT,
                    server TEXT NOT NULL,
                    updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX leases_by_mac ON leases (mac)",
                "ALTER TABLE machines ADD COLUMN ipv4 TEXT",
                "CREATE UNIQUE INDEX machines_by_ipv4 ON machines (ipv4)",
            ]
        },
        Migration(version: 3, name: "lease client identifiers") { _ in
            // A RELEASE or DECLINE must carry the identifier the lease was taken with.
            ["ALTER TABLE leases ADD COLUMN client_id TEXT"]
        },
        Migration(version: 4, name: "machine boot loaders") { _ in
            ["ALTER TABLE machines ADD COLUMN loader TEXT"]
        },
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }
}

/// What a store's `migrate()` found and did, for the log: an upgrade's migration runs once.
public struct SchemaUpgrade: Sendable, Equatable, CustomStringConvertible {
    /// The schema version the database had (0: a new database).
    public var from: Int
    /// The migrations applied, in order, as "VERSION NAME".
    public var applied: [String]
    public var to: Int

    init(from: Int, applied: [Schema.Migration]) {
        self.from = from
        self.applied = applied.map { "\($0.version) \($0.name)" }
        self.to = applied.last?.version ?? from
    }

    public var description: String {
        applied.isEmpty
            ? "schema \(to), up to date"
            : "schema \(from) → \(to), applied \(applied.joined(separator: ", "))"
    }
}
