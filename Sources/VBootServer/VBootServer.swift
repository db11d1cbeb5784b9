import BootPolicy
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL
import ServiceLifecycle

/// `vboot serve`: the DHCP, TFTP and HTTP services in one ServiceGroup that owns start, stop
/// and signals.
public final class VBootServer: Sendable {
    /// Ports actually bound (port 0 in tests picks free ones).
    public struct BoundPorts: Sendable {
        public var http: Int?
        public var tftp: Int?
        public var dhcp: Int?
        public var pxe: Int?
    }

    public let configuration: ServerConfiguration
    public let logger: Logger
    public let counters = ServerCounters()
    private let opened = NIOLockedValueBox<Inventory?>(nil)

    /// The inventory once `run` has opened it (tests and the CLI's in-process use).
    public var inventory: Inventory? { opened.withLockedValue { $0 } }

    let configReload: ConfigReload?

    public init(configuration: ServerConfiguration, logger: Logger, configReload: ConfigReload? = nil) {
        self.configuration = configuration
        self.logger = logger.logSafe
        self.configReload = configReload
    }

    /// What vboot answers `autoexec.ipxe` with, and a line for each way it is not what an admin
    /// may expect.
    private func autoexec(_ store: BootFileStore) -> IPXEAutoexec {
        let template = ShippedFiles.embeddedScriptTemplate
        let autoexec = IPXEAutoexec(template: ShippedFiles.contents(template))
        if autoexec.template == nil {
            logger.info(
                "no \(ShippedFiles.candidates(template).joined(separator: " or ")): autoexec.ipxe will not be served")
        }
        if case .success(let file) = store.resolve(.assets, IPXEAutoexec.fileName) {
            logger.warning(
                "\(file.path) is not served over TFTP: vboot answers autoexec.ipxe with its embedded script (ipxe/embed.ipxe)"
            )
        }
        return autoexec
    }

    /// The services, ready for a ServiceGroup. `onBound` reports each listener's port.
    func services(
        inventory: Inventory, tls: TLSConfiguration? = nil,
        onBound: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) throws -> [any Service] {
        let profiles = inventory.profiles
        let cache = try AssetCache(
            directory: configuration.cacheDirectory,
            upstreams: configuration.upstreams, settings: configuration.cache, counters: counters, logger: logger,
            declared: { profiles.declaredUpstreams() })
        var store = BootFileStore(
            ipxeDirectories: configuration.ipxeDirectories, assetsRoot: configuration.assetsDirectory)
        store.cached = { cache.published($0) }
        let images = ImageVerifier(counters: counters, logger: logger)
        store.images = images
        if let assets = configuration.assetsDirectory { images.checkPublished(assetsRoot: assets) }
        let autoexec = autoexec(store)
        let scripts = BootScriptSource(directory: configuration.bootScriptsDirectory)
        var services: [any Service] = []
        if configuration.dhcpMode != .off {
            var environment = DHCPEnvironment(
                configuration: configuration, catalog: BinaryCatalog(store: store),
                interfaces: InterfaceAddresses(), inventory: inventory, counters: counters, logger: logger)
            if configuration.dhcpMode == .full, let pool = configuration.pool {
                environment.leases = LeaseService(
                    pool: pool, inventory: inventory, counters: counters, logger: logger,
                    queueLimit: configuration.unauthenticatedLimits.dhcpQueueLimit)
            }
            services.append(
                DHCPService(port: configuration.dhcpPort, role: .dhcp, environment: environment) {
                    onBound("dhcp", $0)
                })
            services.append(
                DHCPService(port: configuration.pxePort, role: .bootServer, environment: environment) {
                    onBound("pxe", $0)
                })
        }
        services.append(
            TFTPService(
                environment: TFTPEnvironment(
                    configuration: configuration, store: store, autoexec: autoexec,
                    grubConfigs: GRUBConfigSource(
                        inventory: inventory, scripts: scripts, httpPort: configuration.httpPort, logger: logger),
                    recorder: inventory.recorder, counters: counters, logger: logger)
            ) {
                onBound("tftp", $0)
            })
        if let port = configuration.nbdPort, let assets = configuration.assetsDirectory {
            services.append(
                nbdService(port: port, assets: assets, images: images, inventory: inventory, onBound: onBound))
        }
        var http = HTTPService.Environment(
            configuration: configuration, store: store,
            scripts: scripts, autoexec: autoexec,
            inventory: inventory, counters: counters, logger: logger)
        http.cache = cache
        services.append(HTTPService.makeApplication(http) { onBound("http", $0) })
        for (index, listener) in APIListenAddress.effective(configuration.apiListen).enumerated() {
            // Tests and the CLI's in-process use find the first as "api".
            let name = index == 0 ? "api" : "api-\(index + 1)"
            services.append(
                try HTTPService.makeAPIApplication(http, listener: listener, tls: tls) { onBound(name, $0) })
        }
        if let interface = configuration.captureInterface {
            services.append(
                try WireWatchService(
                    interface: interface, listenAddress: configuration.listenAddress, recorder: inventory.recorder,
                    counters: counters, logger: logger))
        }
        services.append(HeapTrimmer(counters: counters, logger: logger))
        // First: the ServiceGroup stops services in reverse order, so the inventory outlives the
        // listeners and records their final events before the store closes.
        return [inventory] + services
    }

    private func nbdService(
        port: Int, assets: String, images: ImageVerifier, inventory: Inventory,
        onBound: @escaping @Sendable (String, Int) -> Void
    ) -> NBDService {
        let store = inventory.store
        let exports = NBDExports(
            imagesRoot: assets + "/images", overlaysRoot: configuration.overlaysDirectory, images: images,
            startedAt: inventory.bootTokens.startedAt
        ) { [tokens = inventory.bootTokens] mac, token, client in
            let address = client?.ipAddress
            let machine = try? await store.machine(MachineSelector(mac: mac))
            return NBDLayerPolicy.decide(
                machine: machine, client: address, isLoopback: address.map(NBDLayerPolicy.isLoopback) ?? false,
                linkAddress: address.flatMap(NeighbourTable.linkAddress),
                boot: token.flatMap { tokens.verify($0, mac: mac) })
        }
        return NBDService(
            host: configuration.listenAddress?.description ?? "0.0.0.0", port: port, exports: exports,
            counters: counters, logger: logger, onBound: { onBound("nbd", $0) })
    }

    /// Runs until SIGINT/SIGTERM; a listener that fails to start stops the rest.
    public func run(onBound: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        FileDescriptorLimit.raise(logger: logger)
        // A bad certificate or key stops the start before anything binds.
        let tls = try configuration.apiTLS?.serverConfiguration()
        let inventory = try await Inventory.open(configuration: configuration, counters: counters, logger: logger)
        opened.withLockedValue { $0 = inventory }
        var services: [any Service]
        do {
            services = try self.services(inventory: inventory, tls: tls, onBound: onBound)
        } catch {
            try? await inventory.store.close()
            throw error
        }
        if let configReload {
            let report = await inventory.syncDeclaredMachines(configReload.machines)
            logger.info("config: machines from \(configReload.path): \(report)")
            services.append(
                ConfigReloader(
                    reload: configReload, inventory: inventory, running: configuration, counters: counters,
                    logger: logger))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map {
                    ServiceGroupConfiguration.ServiceConfiguration(service: $0)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            try? await inventory.store.close()
            throw error
        }
        try? await inventory.store.close()
    }
}
