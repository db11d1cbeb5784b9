import BootPolicy
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import SQLiteNIO

/// The embedded store: one SQLite file in the data directory, WAL journal, one connection whose
/// statements are serialised (SQLite allows one writer anyway; reads take microseconds).
public final class SQLiteInventoryStore: InventoryStore {
    public static let fileName = "vboot.sqlite"

    let connection: SQLiteConnection
    let lock = AsyncLock()
    public let path: String

    /// Opens (creating) `path`; `":memory:"` gives a private in-memory database.
    public var isShared: Bool { false }

    public static func open(path: String, logger: Logger) async throws -> SQLiteInventoryStore {
        let storage: SQLiteConnection.Storage = path == ":memory:" ? .memory : .file(path: path)
        if path != ":memory:" { makePrivate(path, logger: logger) }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        } catch {
            throw StoreError.unavailable("cannot open SQLite database \(path): \(error)")
        }
        let store = SQLiteInventoryStore(connection: connection, path: path)
        // WAL: readers never block the writer; NORMAL sync: durable at checkpoints, no fsync per
        // timeline insert. A crash can lose the last events, never corrupt the file.
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=5000"] {
            _ = try await connection.query(pragma)
        }
        return store
    }

    /// The database holds install tokens and machine variables: owner-only. A new file is created
    /// 0600 before SQLite opens it; SQLite gives its -wal and -shm files the main file's mode.
    /// Existing files (from before, or restored from a backup) lose group and other access.
    static func makePrivate(_ path: String, logger: Logger) {
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 { Glibc.close(descriptor) }
        for file in [path, path + "-wal", path + "-shm", path + "-journal"] {
            var status = stat()
            guard stat(file, &status) == 0, status.st_mode & 0o077 != 0 else { continue }
            let mode = status.st_mode & 0o777
            if chmod(file, mode & 0o700) == 0 {
                logger.notice(
                    "\(file) was mode 0\(String(mode, radix: 8)); now 0\(String(mode & 0o700, radix: 8)) (it holds secrets)"
                )
            } else {
                logger.warning("\(file) is mode 0\(String(mode, radix: 8)) and cannot be tightened: errno \(errno)")
            }
        }
    }

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    private let closed = NIOLockedValueBox(false)

    /// Idempotent, and completes even from a cancelled task (SQLiteNIO requires a close before
    /// the connection is released).
    public func close() async throws {
        guard
            !closed.withLockedValue({
                let was = $0; $0 = true; return was
            })
        else { return }
        let connection = connection
        try await Task { try await connection.close() }.value
    }

    // MARK: SQL plumbing

    private func query(_ sql: String, _ values: [StoreValue] = []) async throws -> [StoreRow] {
        let rows = try await connection.query(sql, values.map(Self.bind))
        return rows.map { row in StoreRow { Self.value(row.column($0)) } }
    }

    private static func bind(_ value: StoreValue) -> SQLiteData {
        switch value {
        case .text(let text): .text(text)
        case .integer(let number): .integer(SQLiteInt64(number))
        case .null: .null
        }
    }

    private static func value(_ data: SQLiteData?) -> StoreValue {
        switch data {
        case .text(let text): .text(text)
        case .integer(let number): .integer(Int64(number))
        case .float(let number): .integer(Int64(number))
        case .blob, .null, .none: .null
        }
    }

    /// Runs `body` in a write transaction, holding the connection.
    private func transaction<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await lock.withLock {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                let result = try await body()
                _ = try await connection.query("COMMIT")
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    private func serial<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await lock.withLock(body)
    }

    // MARK: InventoryStore

    @discardableResult public func migrate() async throws -> SchemaUpgrade {
        try await serial { _ = try await connection.query(Schema.bookkeeping) }
        let applied = try await serial {
            try await query("SELECT version FROM schema_migrations").map { try $0.integer("version") }
        }
        let current = Int(applied.max() ?? 0)
        guard current <= Schema.latestVersion else {
            throw StoreError.migration(
                version: current,
                reason: "the database at \(path) has schema \(current), newer than this vboot (\(Schema.latestVersion))"
            )
        }
        let pending = Schema.migrations.filter { $0.version > current }
        for migration in pending {
            do {
                try await transaction {
                    for statement in migration.statements(.sqlite) { _ = try await query(statement) }
                    _ = try await query(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        [
                            .integer(Int64(migration.version)), .text(migration.name),
                            .integer(WallClock.microsecondsNow()),
                        ])
                }
            } catch {
                throw StoreError.migration(version: migration.version, reason: "\(error)")
            }
        }
        return SchemaUpgrade(from: current, applied: pending)
    }

    public func machine(_ selector: MachineSelector) async throws -> Machine? {
        try await serial {
            for (column, value) in SelectorQuery.lookups(selector) {
                let rows = try await query(
                    "SELECT \(MachineRow.columns.joined(separator: ", ")) FROM machines WHERE \(column) = ?",
                    [.text(value)])
                if let row = rows.first { return try MachineRow.machine(row) }
            }
            return nil
        }
    }

    public func machines() async throws -> [Machine] {
        try await serial {
            try await query("SELECT \(MachineRow.columns.joined(separator: ", ")) FROM machines ORDER BY mac")
                .map(MachineRow.machine)
        }
    }

    public func insert(_ machine: Machine) async throws {
        var stored = machine
        let now = WallClock.microsecondsNow()
        stored.createdAt = now
        stored.updatedAt = now
        let placeholders = Array(repeating: "?", count: MachineRow.columns.count).joined(separator: ", ")
        do {
            try await serial {
                _ = try await query(
                    "INSERT INTO machines (\(MachineRow.columns.joined(separator: ", "))) VALUES (\(placeholders))",
                    MachineRow.values(stored))
            }
        } catch let error as SQLiteError
            where error.reason == .constraint || error.reason == .constraintUniqueFailed
            || error.reason == .constraintPrimaryKeyFailed
        {
            throw StoreError.exists(SelectorQuery.conflict(from: error.message, machine: machine))
        }
    }

    public func delete(mac: HardwareAddress) async throws -> Bool {
        try await serial {
            let rows = try await query("DELETE FROM machines WHERE mac = ? RETURNING mac", [.text(mac.description)])
            return !rows.isEmpty
        }
    }

    public func update<Result: Sendable>(
        mac: HardwareAddress, _ body: @Sendable (Machine) throws -> (Machine?, Result)
    ) async throws -> Result? {
        do {
            return try await transaction { () async throws -> Result? in
                let rows = try await query(
                    "SELECT \(MachineRow.columns.joined(separator: ", ")) FROM machines WHERE mac = ?",
                    [.text(mac.description)])
                guard let row = rows.first else { return nil }
                let (changed, result) = try body(try MachineRow.machine(row))
                if var changed {
                    changed.mac = mac
                    let assignments = MachineRow.columns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
                    _ = try await query(
                        "UPDATE machines SET \(assignments) WHERE mac = ?",
                        Array(MachineRow.values(changed).dropFirst()) + [.text(mac.description)])
                }
                return result
            }
        } catch let error as SQLiteError where error.reason == .constraint || error.reason == .constraintUniqueFailed {
            throw StoreError.exists(SelectorQuery.conflict(from: error.message, machine: nil))
        }
    }

    public func record(_ events: [BootEvent]) async throws {
        guard !events.isEmpty else { return }
        let row = "(" + Array(repeating: "?", count: EventRow.columns.count).joined(separator: ", ") + ")"
        // SQLite's default limit is 32766 bound values; 500 events × 8 stays far below it.
        for chunk in stride(from: 0, to: events.count, by: 500) {
            let slice = events[chunk..<min(chunk + 500, events.count)]
            try await transaction {
                _ = try await query(
                    "INSERT INTO boot_events (\(EventRow.columns.joined(separator: ", "))) VALUES "
                        + Array(repeating: row, count: slice.count).joined(separator: ", "),
                    slice.flatMap(EventRow.values))
            }
        }
    }

    public func timeline(mac: HardwareAddress?, limit: Int, before: Int64?) async throws -> [BootEvent] {
        var conditions: [String] = []
        var values: [StoreValue] = []
        if let mac {
            conditions.append("mac = ?")
            values.append(.text(mac.description))
        }
        if let before {
            conditions.append("id < ?")
            values.append(.integer(before))
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            "SELECT id, \(EventRow.columns.joined(separator: ", ")) FROM boot_events\(filter) ORDER BY id DESC LIMIT ?"
        let finalValues = values + [.integer(Int64(max(0, limit)))]
        return try await serial { try await query(sql, finalValues).map(EventRow.event) }
    }

    public func timeline(after: Int64, limit: Int) async throws -> [BootEvent] {
        let sql = EventRow.select(after: "?", limit: "?")
        return try await serial {
            try await query(sql, [.integer(after), .integer(Int64(max(0, limit)))]).map(EventRow.event)
        }
    }

    public func latestEvents() async throws -> [BootEvent] {
        try await serial { try await query(EventRow.latest).map(EventRow.event) }
    }

    public func pruneTimeline(perMachine: Int, olderThan: Int64) async throws -> Int {
        try await TimelinePruning.prune(perMachine: perMachine, olderThan: olderThan) { sql, values, column in
            try await serial { try await query(sql, values).map { $0.value(column) } }
        }
    }

    // MARK: Leases

    public func leases() async throws -> [Lease] {
        try await serial { try await query(LeaseSQL.select).map(LeaseRow.lease) }
    }

    public func leases(macs: [HardwareAddress], addresses: [IPv4Address]) async throws -> [Lease] {
        let sql = LeaseSQL.select(macs: macs.count, addresses: addresses.count)
        let values = LeaseSQL.selectValues(macs: macs, addresses: addresses)
        return try await serial { try await query(sql, values).map(LeaseRow.lease) }
    }

    public func claim(_ lease: Lease, now: Int64) async throws -> Bool {
        try await transaction {
            let written = try await query(LeaseSQL.claim, LeaseSQL.claimValues(lease, now: now))
            guard !written.isEmpty else { return false }
            if let mac = lease.mac, lease.state == .bound {
                _ = try await query(LeaseSQL.dropOthers, [.text(mac.description), .text(lease.address.description)])
            }
            return true
        }
    }

    public func updateLease(
        address: IPv4Address, mac: HardwareAddress, state: Lease.State, expiresAt: Int64, now: Int64
    ) async throws -> Bool {
        try await serial {
            !(try await query(
                LeaseSQL.update,
                [
                    .text(state.rawValue), .integer(expiresAt), .integer(now), .text(address.description),
                    .text(mac.description),
                ]
            ).isEmpty)
        }
    }

    public func dropLease(address: IPv4Address, mac: HardwareAddress, state: Lease.State) async throws {
        try await serial {
            _ = try await query(
                LeaseSQL.drop, [.text(mac.description), .text(state.rawValue), .text(address.description)])
        }
    }
}
