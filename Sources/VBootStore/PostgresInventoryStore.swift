import BootPolicy
import DHCPv4
import Logging
import NIOSSL
import PostgresNIO

/// The shared store: several vboot servers on one PostgreSQL database. Row locks (`FOR UPDATE`)
/// make `update` atomic across servers; an advisory lock serialises migrations at start.
public final class PostgresInventoryStore: InventoryStore {
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger
    public let url: PostgresURL

    /// Any constant works; it only has to be the same for every vboot process.
    static let migrationLockKey: Int64 = 0x7662_6f6f_74

    public var isShared: Bool { true }

    public static func open(url: PostgresURL, logger: Logger) async throws -> PostgresInventoryStore {
        let tls: PostgresClient.Configuration.TLS =
            switch url.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration: PostgresClient.Configuration
        if let socket = url.socketPath {
            configuration = .init(
                unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            configuration = .init(
                host: url.host ?? "localhost", port: url.port, username: url.user, password: url.password,
                database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 8
        if let schema = url.schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let store = PostgresInventoryStore(client: client, url: url, logger: logger)
        // The pool's run() starts on another task; the first lease may come before it and
        // PostgresNIO warns about that, harmlessly.
        var quiet = logger
        quiet.logLevel = .error
        let silent = quiet
        do {
            // The pool retries a refused connection for ever; a server that is not there should
            // fail start with a clear message instead.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    if let schema = url.schema {
                        try await client.query(
                            PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: silent)
                    } else {
                        try await client.query("SELECT 1", logger: silent)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw StoreError.unavailable("no connection within 10 s")
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            try? await store.close()
            throw StoreError.unavailable("cannot reach PostgreSQL at \(url): \(String(reflecting: error))")
        }
        return store
    }

    private init(client: PostgresClient, url: PostgresURL, logger: Logger) {
        self.client = client
        self.url = url
        self.logger = logger
        runner = Task { await client.run() }
    }

    public func close() async throws {
        runner.cancel()
        await runner.value
    }

    // MARK: SQL plumbing

    private static func query(_ sql: String, _ values: [StoreValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let text): bindings.append(text)
            case .integer(let number): bindings.append(number)
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private static func rows(_ sequence: PostgresRowSequence) async throws -> [StoreRow] {
        try await sequence.collect().map { row in
            var values: [String: StoreValue] = [:]
            for cell in row {
                values[cell.columnName] = decode(cell)
            }
            return StoreRow { values[$0] ?? .null }
        }
    }

    private static func decode(_ cell: PostgresCell) -> StoreValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8, .int4, .int2:
            return (try? cell.decode(Int64.self)).map(StoreValue.integer) ?? .null
        default:
            return (try? cell.decode(String.self)).map(StoreValue.text) ?? .null
        }
    }

    private func run(_ sql: String, _ values: [StoreValue] = []) async throws -> [StoreRow] {
        try await Self.rows(try await client.query(Self.query(sql, values), logger: logger))
    }

    private static func run(
        _ sql: String, _ values: [StoreValue] = [], on connection: PostgresConnection, logger: Logger
    ) async throws -> [StoreRow] {
        try await rows(try await connection.query(query(sql, values), logger: logger))
    }

    private func translated<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            let message = error.serverInfo?[.message] ?? ""
            throw StoreError.exists(
                SelectorQuery.conflict(from: message.replacingOccurrences(of: "pkey", with: "mac"), machine: nil))
        } catch let error as PSQLError {
            throw StoreError.unavailable(error.serverInfo?[.message] ?? String(reflecting: error))
        }
    }

    // MARK: InventoryStore

    @discardableResult public func migrate() async throws -> SchemaUpgrade {
        let logger = logger
        return try await translated {
            try await client.withTransaction(logger: logger) { connection in
                _ = try await Self.run(
                    "SELECT pg_advisory_xact_lock($1)", [.integer(Self.migrationLockKey)], on: connection,
                    logger: logger)
                _ = try await Self.run(Schema.bookkeeping, on: connection, logger: logger)
                let current =
                    try await Self.run(
                        "SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations", on: connection,
                        logger: logger
                    ).first.map { try $0.integer("version") } ?? 0
                guard current <= Int64(Schema.latestVersion) else {
                    throw StoreError.migration(
                        version: Int(current),
                        reason: "the database has schema \(current), newer than this vboot (\(Schema.latestVersion))")
                }
                let pending = Schema.migrations.filter { $0.version > current }
                for migration in pending {
                    for statement in migration.statements(.postgres) {
                        _ = try await Self.run(statement, on: connection, logger: logger)
                    }
                    _ = try await Self.run(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                        [
                            .integer(Int64(migration.version)), .text(migration.name),
                            .integer(WallClock.microsecondsNow()),
                        ],
                        on: connection, logger: logger)
                }
                return SchemaUpgrade(from: Int(current), applied: pending)
            }
        }
    }

    private static let machineColumns = MachineRow.columns.joined(separator: ", ")

    public func machine(_ selector: MachineSelector) async throws -> Machine? {
        try await translated {
            for (column, value) in SelectorQuery.lookups(selector) {
                let rows = try await run(
                    "SELECT \(Self.machineColumns) FROM machines WHERE \(column) = $1", [.text(value)])
                if let row = rows.first { return try MachineRow.machine(row) }
            }
            return nil
        }
    }

    public func machines() async throws -> [Machine] {
        try await translated {
            try await run("SELECT \(Self.machineColumns) FROM machines ORDER BY mac").map(MachineRow.machine)
        }
    }

    public func insert(_ machine: Machine) async throws {
        var stored = machine
        let now = WallClock.microsecondsNow()
        stored.createdAt = now
        stored.updatedAt = now
        let placeholders = (1...MachineRow.columns.count).map { "$\($0)" }.joined(separator: ", ")
        do {
            _ = try await translated {
                try await run(
                    "INSERT INTO machines (\(Self.machineColumns)) VALUES (\(placeholders))", MachineRow.values(stored))
            }
        } catch StoreError.exists(let what) {
            throw StoreError.exists(SelectorQuery.conflict(from: what, machine: machine))
        }
    }

    public func delete(mac: HardwareAddress) async throws -> Bool {
        try await translated {
            !(try await run("DELETE FROM machines WHERE mac = $1 RETURNING mac", [.text(mac.description)]).isEmpty)
        }
    }

    public func update<Result: Sendable>(
        mac: HardwareAddress, _ body: @Sendable (Machine) throws -> (Machine?, Result)
    ) async throws -> Result? {
        let logger = logger
        return try await translated {
            try await client.withTransaction(logger: logger) { connection -> Result? in
                let rows = try await Self.run(
                    "SELECT \(Self.machineColumns) FROM machines WHERE mac = $1 FOR UPDATE", [.text(mac.description)],
                    on: connection, logger: logger)
                guard let row = rows.first else { return nil }
                let (changed, result) = try body(try MachineRow.machine(row))
                if var changed {
                    changed.mac = mac
                    let assignments = MachineRow.columns.dropFirst().enumerated().map { "\($1) = $\($0 + 1)" }
                        .joined(separator: ", ")
                    let values = Array(MachineRow.values(changed).dropFirst())
                    _ = try await Self.run(
                        "UPDATE machines SET \(assignments) WHERE mac = $\(values.count + 1)",
                        values + [.text(mac.description)], on: connection, logger: logger)
                }
                return result
            }
        }
    }

    public func record(_ events: [BootEvent]) async throws {
        guard !events.isEmpty else { return }
        let width = EventRow.columns.count
        // PostgreSQL allows 65535 parameters per statement; 1000 events × 8 stays below it.
        for chunk in stride(from: 0, to: events.count, by: 1000) {
            let slice = events[chunk..<min(chunk + 1000, events.count)]
            let rows = (0..<slice.count).map { index in
                "(" + (1...width).map { "$\(index * width + $0)" }.joined(separator: ", ") + ")"
            }
            _ = try await translated {
                try await run(
                    "INSERT INTO boot_events (\(EventRow.columns.joined(separator: ", "))) VALUES "
                        + rows.joined(separator: ", "), slice.flatMap(EventRow.values))
            }
        }
    }

    public func timeline(mac: HardwareAddress?, limit: Int, before: Int64?) async throws -> [BootEvent] {
        var conditions: [String] = []
        var values: [StoreValue] = []
        if let mac {
            values.append(.text(mac.description))
            conditions.append("mac = $\(values.count)")
        }
        if let before {
            values.append(.integer(before))
            conditions.append("id < $\(values.count)")
        }
        values.append(.integer(Int64(max(0, limit))))
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            "SELECT id, \(EventRow.columns.joined(separator: ", ")) FROM boot_events\(filter) ORDER BY id DESC LIMIT $\(values.count)"
        return try await translated { try await run(sql, values).map(EventRow.event) }
    }

    public func timeline(after: Int64, limit: Int) async throws -> [BootEvent] {
        let sql = EventRow.select(after: "$1", limit: "$2")
        return try await translated {
            try await run(sql, [.integer(after), .integer(Int64(max(0, limit)))]).map(EventRow.event)
        }
    }

    public func latestEvents() async throws -> [BootEvent] {
        try await translated { try await run(EventRow.latest).map(EventRow.event) }
    }

    public func pruneTimeline(perMachine: Int, olderThan: Int64) async throws -> Int {
        try await TimelinePruning.prune(perMachine: perMachine, olderThan: olderThan) { sql, values, column in
            try await translated { try await run(LeaseSQL.numbered(sql), values).map { $0.value(column) } }
        }
    }

    // MARK: Leases

    public func leases() async throws -> [Lease] {
        try await translated { try await run(LeaseSQL.select).map(LeaseRow.lease) }
    }

    public func leases(macs: [HardwareAddress], addresses: [IPv4Address]) async throws -> [Lease] {
        let sql = LeaseSQL.numbered(LeaseSQL.select(macs: macs.count, addresses: addresses.count))
        let values = LeaseSQL.selectValues(macs: macs, addresses: addresses)
        return try await translated { try await run(sql, values).map(LeaseRow.lease) }
    }

    public func claim(_ lease: Lease, now: Int64) async throws -> Bool {
        let logger = logger
        return try await translated {
            try await client.withTransaction(logger: logger) { connection -> Bool in
                let written = try await Self.run(
                    LeaseSQL.numbered(LeaseSQL.claim), LeaseSQL.claimValues(lease, now: now), on: connection,
                    logger: logger)
                guard !written.isEmpty else { return false }
                if let mac = lease.mac, lease.state == .bound {
                    _ = try await Self.run(
                        LeaseSQL.numbered(LeaseSQL.dropOthers),
                        [.text(mac.description), .text(lease.address.description)],
                        on: connection, logger: logger)
                }
                return true
            }
        }
    }

    public func updateLease(
        address: IPv4Address, mac: HardwareAddress, state: Lease.State, expiresAt: Int64, now: Int64
    ) async throws -> Bool {
        try await translated {
            !(try await run(
                LeaseSQL.numbered(LeaseSQL.update),
                [
                    .text(state.rawValue), .integer(expiresAt), .integer(now), .text(address.description),
                    .text(mac.description),
                ]
            ).isEmpty)
        }
    }

    public func dropLease(address: IPv4Address, mac: HardwareAddress, state: Lease.State) async throws {
        _ = try await translated {
            try await run(
                LeaseSQL.numbered(LeaseSQL.drop),
                [.text(mac.description), .text(state.rawValue), .text(address.description)])
        }
    }
}
