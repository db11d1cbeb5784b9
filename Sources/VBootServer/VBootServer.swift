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

    /// Checks what can be checked before binding anything; errors say what to fix.
    public func validate() throws -> [String] {
        var warnings: [String] = []
        var isDirectory: ObjCBool = false
        let scripts = configuration.bootScriptsDirectory
        guard FileManager.default.fileExists(atPath: scripts, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StartupError("boot scripts directory \(scripts) does not exist (--boot-scripts)")
        }
        guard FileManager.default.isReadableFile(atPath: scripts + "/default.ipxe") else {
            throw StartupError("\(scripts)/default.ipxe is missing: every machine without its own script gets it")
        }
        if let assets = configuration.assetsDirectory {
            guard FileManager.default.fileExists(atPath: assets, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw StartupError("assets directory \(assets) does not exist (--assets)")
            }
        }
        if let data = configuration.dataDirectory {
            do {
                try PrivateFiles.prepareDirectory(data, logger: logger)
            } catch {
                throw StartupError(
                    "data directory \(data) cannot be created (--data-dir): \(error.localizedDescription)")
            }
            guard FileManager.default.isWritableFile(atPath: data) else {
                throw StartupError("data directory \(data) is not writable (--data-dir)")
            }
        }
        if let apiTLS = configuration.apiTLS { _ = try apiTLS.serverConfiguration() }
        if configuration.dhcpMode == .full {
            guard let listen = configuration.listenAddress, !listen.isAny else {
                throw StartupError("--dhcp full needs --listen: the server identifier clients talk to")
            }
            guard let pool = configuration.pool else {
                throw StartupError("--dhcp full needs an address pool (--dhcp-range, or pool: in the config file)")
            }
            guard pool.isInSubnet(listen) else {
                throw StartupError(
                    "--listen \(listen) is not in the pool's subnet \(pool.network)/\(pool.subnetMask): clients could not reach vboot"
                )
            }
            if pool.isDynamic(listen) {
                throw StartupError("the pool range \(pool.first)-\(pool.last) contains vboot's own address \(listen)")
            }
        }
        if configuration.dhcpMode != .off,
            let text = try? String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8),
            let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit < UDPSocket.receiveBufferSize
        {
            warnings.append(
                "net.core.rmem_max is \(limit) bytes: DHCP and TFTP listeners get less than the \(UDPSocket.receiveBufferSize >> 20) MiB receive buffer that absorbs a boot storm (sysctl -w net.core.rmem_max=\(UDPSocket.receiveBufferSize))"
            )
        }
        let store = BootFileStore(
            ipxeDirectories: configuration.ipxeDirectories, assetsRoot: configuration.assetsDirectory)
        let installed = store.installedBinaries()
        for (name, why) in [("ipxe.efi", "x86-64 UEFI"), ("undionly.kpxe", "BIOS")] where installed[name] == nil {
            warnings.append(
                "no \(name) in \(configuration.ipxeDirectories.joined(separator: ", ")): \(why) PXE clients will get no answer; install Debian's ipxe package (apt install ipxe) or pass --ipxe-dir"
            )
        }
        return warnings
    }

    /// The services, ready for a ServiceGroup. `onBound` reports each listener's port.
    func services(
        inventory: Inventory, tls: TLSConfiguration? = nil,
        onBound: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) throws -> [any Service] {
        let store = BootFileStore(
            ipxeDirectories: configuration.ipxeDirectories, assetsRoot: configuration.assetsDirectory)
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
                    configuration: configuration, store: store, recorder: inventory.recorder, counters: counters,
                    logger: logger)
            ) {
                onBound("tftp", $0)
            })
        let http = HTTPService.Environment(
            configuration: configuration, store: store,
            scripts: BootScriptSource(directory: configuration.bootScriptsDirectory),
            inventory: inventory, counters: counters, logger: logger)
        services.append(HTTPService.makeApplication(http) { onBound("http", $0) })
        for (index, listener) in APIListenAddress.effective(configuration.apiListen).enumerated() {
            // Tests and the CLI's in-process use find the first as "api".
            let name = index == 0 ? "api" : "api-\(index + 1)"
            services.append(
                try HTTPService.makeAPIApplication(http, listener: listener, tls: tls) { onBound(name, $0) })
        }
        services.append(HeapTrimmer(counters: counters, logger: logger))
        // First: the ServiceGroup stops services in reverse order, so the inventory outlives the
        // listeners and records their final events before the store closes.
        return [inventory] + services
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
