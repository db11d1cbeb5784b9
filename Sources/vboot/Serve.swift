import ArgumentParser
import BootPolicy
import DHCPv4
import Foundation
import Logging
import VBootServer

struct Serve: AsyncParsableCommand {
    /// `vboot rom build`'s default --out.
    static let romBuildOutput = "out/ipxe"
    static let defaultDataDirectory = "/var/lib/vboot"

    static let configuration = CommandConfiguration(
        abstract: "Answer PXE clients (proxyDHCP), serve iPXE over TFTP and scripts, kernels and images over HTTP.",
        discussion: """
            Settings come from --config FILE (YAML) when given; flags win over the file. SIGHUP, or a change \
            to the file, reloads its variables, machines and policies without interrupting transfers.
            """)

    @Option(
        help:
            "YAML config file: every setting below by its key (api.listen is listen: under api:), site variables and declared machines."
    )
    var config: String?

    @Option(.listen) var listen: String?
    @Option(.interface) var interface: String?
    @Option(.dhcp) var dhcp: ServerConfiguration.DHCPMode?
    @Option(.poolRange) var dhcpRange: String?
    @Option(.poolNetmask) var dhcpNetmask: String?
    @Option(.poolRouters) var dhcpRouter: [String] = []
    @Option(.poolDNS) var dhcpDns: [String] = []
    @Option(.poolDomain) var dhcpDomain: String?
    @Option(.poolLeaseTime) var dhcpLeaseTime: String?
    @Option(.poolDeclineQuarantine) var dhcpDeclineQuarantine: String?
    @Option(.httpPort) var httpPort: String?
    @Option(.tftpPort) var tftpPort: String?
    @Option(.nbdPort) var nbdPort: String?
    @Option(.dhcpPort) var dhcpPort: String?
    @Option(.pxePort) var pxePort: String?
    @Option(.bootScripts) var bootScripts: String?
    @Option(.ipxeDir) var ipxeDir: [String] = []
    @Option(.assets) var assets: String?
    @Option(.dataDir) var dataDir: String?
    @Option(.database) var database: String?
    @Option(.unknownMachines) var unknownMachines: UnknownMachinePolicy?
    @Option(.pxeStrategy) var pxeStrategies: [String] = []
    @Option(.loader) var loader: BootLoader?
    @Option(.apiTokenFile) var apiTokenFile: String?
    @Option(.apiReadNetworks) var apiReadNetworks: [String] = []
    @Option(.apiListen) var apiListen: [String] = []
    @Option(.apiHosts) var apiHosts: [String] = []
    @Option(.apiTLSCert) var apiTlsCert: String?
    @Option(.apiTLSKey) var apiTlsKey: String?
    @Option(.maxTFTPTransfers) var maxTftpTransfers: String?
    @Option(.maxTFTPTransfersPerAddress) var maxTftpTransfersPerAddress: String?
    @Option(.tftpTransferLifetime) var tftpTransferLifetime: String?
    @Option(.tftpReadAheadBudget) var tftpReadAheadBudget: String?
    @Option(.tftpSharedCopies) var tftpSharedCopies: String?
    @Option(.tftpThreads) var tftpThreads: String?
    @Option(.dhcpQueueLimit) var dhcpQueueLimit: String?
    @Option(.unknownEventRate) var unknownEventRate: String?
    @Option(.unknownEventRateTotal) var unknownEventRateTotal: String?
    @Option(.registrationRate) var registrationRate: String?
    @Option(.registrationRateTotal) var registrationRateTotal: String?
    @Option(.unassignedMachineLimit) var unassignedMachineLimit: String?
    @Option(.maxHTTPConnections) var maxHttpConnections: String?
    @Option(.maxHTTPConnectionsPerClient) var maxHttpConnectionsPerClient: String?
    @Option(.httpRequestTimeout) var httpRequestTimeout: String?
    @Option(.httpIdleTimeout) var httpIdleTimeout: String?
    @Option(.timelinePerMachine) var timelinePerMachine: String?
    @Option(.timelineDays) var timelineDays: String?
    @Option(.logLevel) var logLevel: Logger.Level?
    @Option(.user) var user: String?
    @Option(.capture) var capture: String?
    @OptionGroup(title: "Upstream asset cache") var cache: CacheFlags
    @OptionGroup(title: "Upstream asset cache") var cacheServe: CacheServeFlags

    /// The flags as given, by setting (`ServeSettingsTests` checks that every setting is here).
    var given: [(SettingKey, [String])] {
        [
            (.listen, one(listen)), (.interface, one(interface)), (.dhcp, one(dhcp?.rawValue)),
            (.poolRange, one(dhcpRange)), (.poolNetmask, one(dhcpNetmask)), (.poolRouters, dhcpRouter),
            (.poolDNS, dhcpDns), (.poolDomain, one(dhcpDomain)), (.poolLeaseTime, one(dhcpLeaseTime)),
            (.poolDeclineQuarantine, one(dhcpDeclineQuarantine)), (.httpPort, one(httpPort)),
            (.tftpPort, one(tftpPort)), (.nbdPort, one(nbdPort)), (.dhcpPort, one(dhcpPort)), (.pxePort, one(pxePort)),
            (.bootScripts, one(bootScripts)), (.ipxeDir, ipxeDir), (.assets, one(assets)), (.dataDir, one(dataDir)),
            (.database, one(database)), (.unknownMachines, one(unknownMachines?.rawValue)),
            (.pxeStrategy, pxeStrategies), (.loader, one(loader?.rawValue)), (.apiTokenFile, one(apiTokenFile)),
            (.apiReadNetworks, apiReadNetworks),
            (.apiListen, apiListen), (.apiHosts, apiHosts), (.apiTLSCert, one(apiTlsCert)),
            (.apiTLSKey, one(apiTlsKey)), (.maxTFTPTransfers, one(maxTftpTransfers)),
            (.maxTFTPTransfersPerAddress, one(maxTftpTransfersPerAddress)),
            (.tftpTransferLifetime, one(tftpTransferLifetime)), (.tftpReadAheadBudget, one(tftpReadAheadBudget)),
            (.tftpSharedCopies, one(tftpSharedCopies)),
            (.tftpThreads, one(tftpThreads)), (.dhcpQueueLimit, one(dhcpQueueLimit)),
            (.unknownEventRate, one(unknownEventRate)), (.unknownEventRateTotal, one(unknownEventRateTotal)),
            (.registrationRate, one(registrationRate)), (.registrationRateTotal, one(registrationRateTotal)),
            (.unassignedMachineLimit, one(unassignedMachineLimit)), (.maxHTTPConnections, one(maxHttpConnections)),
            (.maxHTTPConnectionsPerClient, one(maxHttpConnectionsPerClient)),
            (.httpRequestTimeout, one(httpRequestTimeout)), (.httpIdleTimeout, one(httpIdleTimeout)),
            (.timelinePerMachine, one(timelinePerMachine)), (.timelineDays, one(timelineDays)),
            (.logLevel, one(logLevel?.rawValue)), (.user, one(user)), (.capture, one(capture)),
        ] + cache.given + cacheServe.given
    }

    private func one(_ value: String?) -> [String] { value.map { [$0] } ?? [] }

    /// The flags, each checked by its setting; a bad one names the flag.
    func flagSettings() throws -> SettingValues {
        var values = SettingValues()
        for (key, texts) in given {
            do { try values.set(key, texts) } catch { throw ValidationError("--\(key.setting.flag): \(error)") }
        }
        return values
    }

    /// Defaults: the server's, with vboot's data directory.
    static func baseConfiguration() -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.dataDirectory = defaultDataDirectory
        return configuration
    }

    /// The configuration: defaults, then the config file, then flags; at start and on every reload.
    func makeConfiguration(file: ConfigFile?) throws -> ServerConfiguration {
        var configuration: ServerConfiguration
        do {
            configuration = try .merged(base: Self.baseConfiguration(), file: file, flags: try flagSettings())
        } catch let error as SettingError {
            throw ValidationError("\(error)")
        }
        if configuration.givenSettings[.ipxeDir] == nil,
            FileManager.default.fileExists(atPath: "\(Self.romBuildOutput)/manifest.json")
        {
            // Binaries built with vboot's embedded script win over Debian's stock ones.
            configuration.ipxeDirectories = [Self.romBuildOutput] + BootFileStore.debianIPXEDirectories
        }
        return configuration
    }

    /// Who to become before binding: started as root, `--user` (or the file's `user`), else the
    /// `vboot` account, which must exist; not root: nobody to switch to.
    func serviceAccount(configuration: ServerConfiguration, logger: Logger) throws -> ServiceAccount? {
        let named = configuration.user
        guard geteuid() == 0 else {
            if let named, ServiceAccount.lookup(named)?.uid != geteuid() {
                throw StartupError("--user \(named) needs vboot to start as root (it runs as uid \(geteuid()))")
            }
            return nil
        }
        let name = named ?? ServiceAccount.defaultName
        if name == "root" {
            logger.warning("running as root after binding (--user root): every LAN packet is handled by root")
            return nil
        }
        guard let account = ServiceAccount.lookup(name) else {
            if named != nil { throw StartupError("--user \(name): no such user") }
            throw StartupError(
                """
                started as root, vboot switches to the vboot user once its ports are bound, and there is no \
                such user: create it (adduser --system --group --home /var/lib/vboot --no-create-home vboot), \
                name another with --user, or keep root with --user root (not recommended)
                """)
        }
        guard account.uid != 0 else { throw StartupError("--user \(name) is root (uid 0): name an unprivileged user") }
        return account
    }

    func run() async throws {
        EventLoopSizing.applyCPUAffinity()
        let file = try loadFile()
        var configuration = try makeConfiguration(file: file)
        let logger = Self.bootstrapLogging(level: configuration.logLevel)
        do {
            configuration.apiAccess.token = try prepare(configuration, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        let reload = file.map { reloading($0, token: configuration.apiAccess.token) }
        let server = VBootServer(configuration: configuration, logger: logger, configReload: reload)
        do {
            try await server.run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }

    /// A bad config file fails here, before anything binds, with file:line:column and the reason.
    func loadFile() throws -> ConfigFile? {
        do {
            return try config.map { try ConfigFile.load(path: $0) }
        } catch {
            // The file's own message (file:line:column: reason), not the command's usage.
            FileHandle.standardError.write(Data("vboot serve: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }

    static func bootstrapLogging(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "vboot")
        logger.logLevel = level
        return logger
    }

    /// Drops privileges (started as root), checks the configuration, and returns the API token.
    func prepare(_ configuration: ServerConfiguration, logger: Logger) throws -> String? {
        let tokenPath =
            configuration.apiTokenFile
            ?? (configuration.dataDirectory ?? Self.defaultDataDirectory) + "/" + APITokenFile.defaultName
        if let account = try serviceAccount(configuration: configuration, logger: logger) {
            // Replaces this process: the same command runs again as `account`, which then
            // checks what it can reach.
            try PrivilegeDrop.become(account, configuration: configuration, logger: logger) {
                try APITokenFile.loadOrCreate(path: tokenPath, logger: logger)
            }
        }
        PrivilegeDrop.logCurrent(logger: logger)
        for warning in try VBootServer(configuration: configuration, logger: logger).validate() {
            logger.warning("\(warning)")
        }
        return try PrivilegeDrop.inheritedAPIToken() ?? APITokenFile.loadOrCreate(path: tokenPath, logger: logger)
    }

    /// The same order on reload: defaults, the file, then the flags (the token stays).
    func reloading(_ file: ConfigFile, token: String?) -> ConfigReload {
        ConfigReload(path: file.path, machines: file.machines) { [self] reloaded in
            var fresh = try makeConfiguration(file: reloaded)
            fresh.apiAccess.token = token
            return fresh
        }
    }
}
