import BootPolicy
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// What `vboot serve --config` hands the server: the file, the machines it declared at start,
/// and how to turn a reloaded file into a configuration (defaults, file, then flags).
public struct ConfigReload: Sendable {
    public var path: String
    public var machines: [Machine]
    public var configuration: @Sendable (ConfigFile) throws -> ServerConfiguration

    public init(
        path: String, machines: [Machine],
        configuration: @escaping @Sendable (ConfigFile) throws -> ServerConfiguration
    ) {
        self.path = path
        self.machines = machines
        self.configuration = configuration
    }
}

/// Reloads the config file on SIGHUP or when it changes on disk (checked every `pollInterval`).
/// A file with errors is refused with its line and reason and the running settings stay; a
/// good one replaces the live settings and syncs its machines. Listeners keep running, so TFTP
/// transfers and HTTP requests in flight are untouched; boot scripts are read per request.
/// `/metrics` counts both outcomes: `vboot_config_reloads_total` and
/// `vboot_config_reloads_refused_total`.
final class ConfigReloader: Service, Sendable {
    let reload: ConfigReload
    let inventory: Inventory
    let running: ServerConfiguration
    let counters: ServerCounters
    let logger: Logger
    let pollInterval: Duration

    init(
        reload: ConfigReload, inventory: Inventory, running: ServerConfiguration, counters: ServerCounters,
        logger: Logger, pollInterval: Duration = .seconds(2)
    ) {
        self.reload = reload
        self.inventory = inventory
        self.running = running
        self.counters = counters
        self.logger = logger
        self.pollInterval = pollInterval
    }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { await self.apply(trigger: "SIGHUP") }
                }
                group.addTask {
                    var stamp = Self.modification(of: self.reload.path)
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.pollInterval)
                        let now = Self.modification(of: self.reload.path)
                        if now != stamp {
                            stamp = now
                            await self.apply(trigger: "file changed")
                        }
                    }
                }
                await group.waitForAll()
            }
        }
    }

    /// One reload; returns false when the file was refused.
    @discardableResult
    func apply(trigger: String) async -> Bool {
        let file: ConfigFile
        let fresh: ServerConfiguration
        do {
            file = try ConfigFile.load(path: reload.path)
            fresh = try reload.configuration(file)
        } catch {
            counters.increment(.configReloadsRefused)
            logger.error("config: \(trigger): not reloaded, keeping the running settings: \(error)")
            return false
        }
        let changed = inventory.live.replace(from: fresh)
        let restartOnly = running.givenSettings.restartOnlyChanges(to: fresh.givenSettings)
        if !restartOnly.isEmpty {
            logger.warning(
                "config: \(restartOnly.joined(separator: ", ")) changed in \(reload.path): restart vboot to apply")
        }
        let sync = await inventory.syncDeclaredMachines(file.machines)
        counters.increment(.configReloads)
        logger.notice(
            "config: \(trigger): reloaded \(reload.path)\(changed.isEmpty ? "" : " (changed: \(changed.joined(separator: ", ")))"); machines: \(sync)"
        )
        return true
    }

    static func modification(of path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
