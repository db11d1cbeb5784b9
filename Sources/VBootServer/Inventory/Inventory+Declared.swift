import BootPolicy
import VBootStore

extension Inventory {
    struct SyncReport: Sendable, CustomStringConvertible {
        var added = 0
        var updated = 0
        var unchanged = 0
        var failed: [String] = []

        var description: String {
            "\(added) added, \(updated) updated, \(unchanged) unchanged"
                + (failed.isEmpty ? "" : ", \(failed.count) failed: \(failed.joined(separator: "; "))")
        }
    }

    /// Brings the machines a config file declares into the store. Identity, address, profile,
    /// variables and strategy follow the file; `next_boot` is only the starting state of a machine the file
    /// adds, so a reload never restarts a finished install. Machines the file no longer names
    /// stay: the store is the source of truth, removal is an API call.
    func syncDeclaredMachines(_ declared: [Machine]) async -> SyncReport {
        var report = SyncReport()
        for machine in declared {
            do {
                let outcome = try await update(mac: machine.mac, by: "config") { current in
                    current.uuid = machine.uuid
                    current.serial = machine.serial
                    current.hostname = machine.hostname
                    current.profile = machine.profile
                    current.variables = machine.variables
                    current.proxyStrategy = machine.proxyStrategy
                    current.loader = machine.loader
                    current.address = machine.address
                }
                switch outcome {
                case .none:
                    try await insert(machine, by: "config")
                    report.added += 1
                case .some(let result):
                    if result.changed { report.updated += 1 } else { report.unchanged += 1 }
                }
            } catch {
                report.failed.append("\(machine.mac): \(error)")
            }
        }
        return report
    }
}
