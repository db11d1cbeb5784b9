import BootPolicy
import NIOConcurrencyHelpers

/// The settings a config reload changes while vboot runs. Listeners, ports and the database
/// stay as started; these are read per request, so a reload never interrupts a transfer.
final class LiveSettings: Sendable {
    struct Values: Sendable, Hashable {
        var siteVariables: [String: String]
        var unknownMachines: UnknownMachinePolicy
        var proxyStrategies: ProxyStrategies
        var loader: BootLoader
        var apiAccess: APIAccess
        var timelineRetention: TimelineRetention
    }

    private let values: NIOLockedValueBox<Values>

    init(_ configuration: ServerConfiguration) { values = NIOLockedValueBox(Values(configuration)) }

    var current: Values { values.withLockedValue { $0 } }

    /// Replaces the reloadable settings; returns the ones that changed, by name, for the log.
    @discardableResult
    func replace(from configuration: ServerConfiguration) -> [String] {
        let fresh = Values(configuration)
        let old = values.withLockedValue { state -> Values in
            defer { state = fresh }
            return state
        }
        var changed: [String] = []
        if old.siteVariables != fresh.siteVariables { changed.append("variables") }
        if old.unknownMachines != fresh.unknownMachines { changed.append("unknown_machines") }
        if old.proxyStrategies != fresh.proxyStrategies { changed.append("pxe_strategy") }
        if old.loader != fresh.loader { changed.append("loader") }
        if old.apiAccess != fresh.apiAccess { changed.append("api") }
        if old.timelineRetention != fresh.timelineRetention { changed.append("timeline") }
        return changed
    }
}

extension LiveSettings.Values {
    init(_ configuration: ServerConfiguration) {
        self.init(
            siteVariables: configuration.siteVariables, unknownMachines: configuration.unknownMachines,
            proxyStrategies: configuration.proxyStrategies, loader: configuration.loader,
            apiAccess: configuration.apiAccess,
            timelineRetention: configuration.timelineRetention)
    }
}
