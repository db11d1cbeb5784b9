import Foundation
import Logging
import VBootStore

/// The backends every store test runs against. PostgreSQL needs `VBOOT_TEST_POSTGRES`
/// (`scripts/test` starts Debian's server and sets it); each test gets its own schema.
enum StoreBackend: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case postgres

    var description: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["VBOOT_TEST_POSTGRES"]

    static var available: [StoreBackend] { postgresURL == nil ? [.sqlite] : allCases }

    /// A fresh, migrated store; `body` runs with it and it is removed afterwards.
    func withStore<T>(_ body: (any InventoryStore, StoreFactory) async throws -> T) async throws -> T {
        let factory = try StoreFactory(backend: self)
        defer { factory.cleanUp() }
        let store = try await factory.open()
        do {
            try await store.migrate()
            let result = try await body(store, factory)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }
}

/// Opens further connections to the same test database (a second "server").
struct StoreFactory: Sendable {
    let backend: StoreBackend
    let location: String

    init(backend: StoreBackend) throws {
        self.backend = backend
        let tag = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-store-\(tag)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            location = directory.appendingPathComponent("vboot.sqlite").path
        case .postgres:
            let base = StoreBackend.postgresURL ?? ""
            location = base + (base.contains("?") ? "&" : "?") + "schema=t_\(tag)"
        }
    }

    func open() async throws -> any InventoryStore {
        var logger = Logger(label: "store-test")
        logger.logLevel = .warning
        switch backend {
        case .sqlite: return try await SQLiteInventoryStore.open(path: location, logger: logger)
        case .postgres: return try await PostgresInventoryStore.open(url: try PostgresURL(location), logger: logger)
        }
    }

    /// A second "server" working at the same time: another connection pool on PostgreSQL. SQLite
    /// is one server's embedded store (two connections in one process would block each other's
    /// busy waits on SQLiteNIO's shared thread pool), so there it is the same store.
    func concurrentPeer(of store: any InventoryStore) async throws -> any InventoryStore {
        backend == .sqlite ? store : try await open()
    }

    func cleanUp() {
        switch backend {
        case .sqlite:
            try? FileManager.default.removeItem(atPath: (location as NSString).deletingLastPathComponent)
        case .postgres:
            // Schemas are dropped by `scripts/test` with the test database; a schema here is small.
            break
        }
    }
}

/// An async body's outcome as a value, so cleanup can run before the error is rethrown.
func catching<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
