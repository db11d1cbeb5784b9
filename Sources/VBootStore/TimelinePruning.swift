/// Timeline retention in bounded steps: each statement deletes at most `batch` rows and commits
/// on its own, so a big timeline never holds one long write transaction (the boot path's
/// writes and other servers wait for at most one batch). The same statements for both backends
/// (`?` placeholders; PostgreSQL's store numbers them).
enum TimelinePruning {
    /// Rows per delete statement.
    static let batch = 1000

    /// `execute` runs one statement in its own transaction and returns the named column of its rows.
    static func prune(
        perMachine: Int, olderThan: Int64, execute: (String, [StoreValue], String) async throws -> [StoreValue]
    ) async throws -> Int {
        var removed = 0
        // By age, oldest first (`boot_events_by_time`).
        while true {
            let gone = try await execute(
                "DELETE FROM boot_events WHERE id IN (SELECT id FROM boot_events WHERE at < ? ORDER BY at LIMIT ?) RETURNING id",
                [.integer(olderThan), .integer(Int64(batch))], "id"
            ).count
            removed += gone
            if gone < batch { break }
        }
        // Per machine beyond its newest `perMachine` (`boot_events_by_mac`); events without a
        // MAC count as one machine.
        let crowded = try await execute(
            "SELECT mac FROM boot_events GROUP BY mac HAVING COUNT(*) > ?", [.integer(Int64(perMachine))], "mac")
        for row in crowded {
            let mac = row.text
            let match = mac == nil ? "mac IS NULL" : "mac = ?"
            let macValue: [StoreValue] = mac.map { [.text($0)] } ?? []
            // The newest event that goes: everything at or below its id goes too.
            guard
                let newestGone = try await execute(
                    "SELECT id FROM boot_events WHERE \(match) ORDER BY id DESC LIMIT 1 OFFSET ?",
                    macValue + [.integer(Int64(perMachine))], "id"
                ).first?.integer
            else { continue }
            while true {
                let gone = try await execute(
                    "DELETE FROM boot_events WHERE id IN (SELECT id FROM boot_events WHERE \(match) AND id <= ? ORDER BY id LIMIT ?) RETURNING id",
                    macValue + [.integer(newestGone), .integer(Int64(batch))], "id"
                ).count
                removed += gone
                if gone < batch { break }
            }
        }
        return removed
    }
}
