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

    @Option(help: "YAML config file: settings, site variables and declared machines.")
    var config: String?

    @Option(
        help:
            "IPv4 address to announce and bind TFTP/HTTP to (default: all interfaces; DHCP announces the receiving interface's address)."
    )
    var listen: String?

    @Option(help: "Answer DHCP only on this interface.")
    var interface: String?

    @Option(
        help:
            "DHCP mode: proxy (the site's DHCP server hands out addresses; default), full (vboot is the DHCP server: needs --listen and --dhcp-range) or off."
    )
    var dhcp: String?

    @Option(help: "--dhcp full: the dynamic range, FIRST-LAST (e.g. 10.0.0.100-10.0.0.199).")
    var dhcpRange: String?
    @Option(help: "--dhcp full: subnet mask (default: the --listen interface's).") var dhcpNetmask: String?
    @Option(help: "--dhcp full: router (option 3); repeatable.") var dhcpRouter: [String] = []
    @Option(help: "--dhcp full: DNS server (option 6); repeatable.") var dhcpDns: [String] = []
    @Option(help: "--dhcp full: domain name (option 15).") var dhcpDomain: String?
    @Option(help: "--dhcp full: lease time in seconds (default 3600).") var dhcpLeaseTime: Int?

    @Option(help: "HTTP port (default 8080).") var httpPort: Int?
    @Option(help: "TFTP port (default 69).") var tftpPort: Int?
    @Option(help: "DHCP server port the proxy listens on (default 67).") var dhcpPort: Int?
    @Option(help: "PXE boot server port, PXE 2.1 §2.2.4 (default 4011).") var pxePort: Int?

    @Option(help: "Directory with default.ipxe, machines/<mac>.ipxe and profiles/ (default ./boot-scripts).")
    var bootScripts: String?

    @Option(
        help:
            "Directory with iPXE binaries (default: the last `vboot rom build` output, ./out/ipxe, then Debian's ipxe package in /usr/lib/ipxe and /boot)."
    )
    var ipxeDir: String?

    @Option(help: "Directory served at /assets/ over HTTP and by path over TFTP (kernels, initrds, images).")
    var assets: String?

    @Option(
        help: "Directory for vboot's own state: the SQLite inventory and the API token (default /var/lib/vboot).")
    var dataDir: String?

    @Option(
        help:
            "Inventory database: postgres://user:pass@host/db (shared by several servers) or an SQLite file (default: vboot.sqlite in the data directory)."
    )
    var database: String?

    @Option(
        help:
            "What machines not in the inventory get: script (their script file or default.ipxe; default), register (added, then as script) or ignore."
    )
    var unknownMachines: String?

    @Option(
        help:
            "File holding the API's bearer token; generated (mode 600) when missing; the log names the file, never the token (default: DATA_DIR/api-token)."
    )
    var apiTokenFile: String?

    @Option(
        name: .customLong("api-read-network"),
        help: "Network (CIDR) whose clients may read the API without the token; repeatable.")
    var apiReadNetworks: [String] = []

    @Option(
        name: .customLong("pxe-strategy"),
        help: "Per firmware family proxy strategy, FAMILY=STRATEGY (bios|uefi = offer|boot-server); repeatable.")
    var pxeStrategies: [String] = []

    @Option(help: "Maximum concurrent TFTP transfers (default 1024).") var maxTftpTransfers: Int?

    @Option(help: "Maximum open HTTP connections per listener; more get 503 and are closed (default 4096).")
    var maxHttpConnections: Int?
    @Option(
        help:
            "Maximum open HTTP connections from one IP address (default 64; raise it if many clients reach vboot through one NAT address)."
    )
    var maxHttpConnectionsPerClient: Int?
    @Option(
        help:
            "Seconds a client has to send a whole HTTP request (head and body) from its first byte, or from connecting (default 10)."
    )
    var httpRequestTimeout: Int?
    @Option(help: "Seconds a kept-alive HTTP connection may wait for its next request (default 30).")
    var httpIdleTimeout: Int?

    @Option(help: "Log level: trace, debug, info (default), notice, warning, error, critical.")
    var logLevel: String?

    /// The configuration: defaults, then the config file, then flags.
    func makeConfiguration(file: ConfigFile?) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.dataDirectory = Self.defaultDataDirectory
        file?.apply(to: &configuration)
        try applyFlags(to: &configuration)
        configuration.pool = try pool(file: file, listen: configuration.listenAddress)
        if ipxeDir == nil, file?.ipxeDirectories == nil,
            FileManager.default.fileExists(atPath: "\(Self.romBuildOutput)/manifest.json")
        {
            // Binaries built with vboot's embedded script win over Debian's stock ones.
            configuration.ipxeDirectories = [Self.romBuildOutput] + BootFileStore.debianIPXEDirectories
        }
        return configuration
    }

    /// The pool from the file's `pool:` and the --dhcp-* flags.
    func pool(file: ConfigFile?, listen: IPv4Address?) throws -> AddressPool? {
        var flags = PoolSettings()
        flags.range = dhcpRange
        if let dhcpNetmask {
            guard let mask = IPv4Address(dhcpNetmask) else {
                throw ValidationError("--dhcp-netmask \(dhcpNetmask) is not a netmask")
            }
            flags.netmask = mask
        }
        func addresses(_ texts: [String], _ flag: String) throws -> [IPv4Address]? {
            guard !texts.isEmpty else { return nil }
            return try texts.map { text in
                guard let address = IPv4Address(text) else {
                    throw ValidationError("\(flag) \(text) is not an IPv4 address")
                }
                return address
            }
        }
        flags.routers = try addresses(dhcpRouter, "--dhcp-router")
        flags.dnsServers = try addresses(dhcpDns, "--dhcp-dns")
        flags.domain = dhcpDomain
        if let dhcpLeaseTime {
            guard (60...31_536_000).contains(dhcpLeaseTime) else {
                throw ValidationError("--dhcp-lease-time \(dhcpLeaseTime): 60 to 31536000 seconds")
            }
            flags.leaseSeconds = UInt32(dhcpLeaseTime)
        }
        do {
            return try (file?.pool ?? PoolSettings()).overlaid(with: flags).resolve(listen: listen)
        } catch {
            throw ValidationError("DHCP pool: \(error)")
        }
    }

    /// Flags given on the command line; applied after the file, at start and on every reload.
    func applyFlags(to configuration: inout ServerConfiguration) throws {
        if let listen {
            guard let address = IPv4Address(listen) else {
                throw ValidationError("--listen \(listen) is not an IPv4 address")
            }
            configuration.listenAddress = address
        }
        if let interface { configuration.interface = interface }
        if let dhcp {
            guard let mode = ServerConfiguration.DHCPMode(rawValue: dhcp) else {
                throw ValidationError(
                    "--dhcp \(dhcp): expected one of \(ServerConfiguration.DHCPMode.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            configuration.dhcpMode = mode
        }
        for (name, port) in [
            ("--http-port", httpPort), ("--tftp-port", tftpPort), ("--dhcp-port", dhcpPort), ("--pxe-port", pxePort),
        ] {
            guard let port else { continue }
            guard (0...65535).contains(port) else { throw ValidationError("\(name) \(port) is not a port number") }
        }
        if let httpPort { configuration.httpPort = httpPort }
        if let tftpPort { configuration.tftpPort = tftpPort }
        if let dhcpPort { configuration.dhcpPort = dhcpPort }
        if let pxePort { configuration.pxePort = pxePort }
        if let bootScripts { configuration.bootScriptsDirectory = bootScripts }
        if let ipxeDir { configuration.ipxeDirectories = [ipxeDir] }
        if let assets { configuration.assetsDirectory = assets }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let database {
            do { configuration.database = try DatabaseLocation(database) } catch {
                throw ValidationError("--database: \(error)")
            }
        }
        if let unknownMachines {
            guard let policy = UnknownMachinePolicy(rawValue: unknownMachines) else {
                throw ValidationError(
                    "--unknown-machines \(unknownMachines): expected one of \(UnknownMachinePolicy.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            configuration.unknownMachines = policy
        }
        if !apiReadNetworks.isEmpty {
            configuration.apiAccess.readNetworks = try apiReadNetworks.map { text in
                guard let network = IPv4Network(text) else {
                    throw ValidationError("--api-read-network \(text) is not an IPv4 network (10.0.0.0/8)")
                }
                return network
            }
        }
        for text in pxeStrategies {
            do { try configuration.proxyStrategies.apply(text) } catch {
                throw ValidationError("--pxe-strategy: \(error)")
            }
        }
        if let maxTftpTransfers {
            guard maxTftpTransfers > 0 else { throw ValidationError("--max-tftp-transfers must be positive") }
            configuration.maximumTFTPTransfers = maxTftpTransfers
        }
        try applyHTTPLimitFlags(to: &configuration.httpLimits)
    }

    func applyHTTPLimitFlags(to limits: inout HTTPConnectionLimits) throws {
        if let maxHttpConnections {
            guard maxHttpConnections > 0 else { throw ValidationError("--max-http-connections must be positive") }
            limits.maximumConnections = maxHttpConnections
        }
        if let maxHttpConnectionsPerClient {
            guard maxHttpConnectionsPerClient > 0 else {
                throw ValidationError("--max-http-connections-per-client must be positive")
            }
            limits.maximumConnectionsPerClient = maxHttpConnectionsPerClient
        }
        if let httpRequestTimeout {
            guard (1...3600).contains(httpRequestTimeout) else {
                throw ValidationError("--http-request-timeout \(httpRequestTimeout): 1 to 3600 seconds")
            }
            limits.requestTimeout = .seconds(httpRequestTimeout)
        }
        if let httpIdleTimeout {
            guard (1...86400).contains(httpIdleTimeout) else {
                throw ValidationError("--http-idle-timeout \(httpIdleTimeout): 1 to 86400 seconds")
            }
            limits.idleTimeout = .seconds(httpIdleTimeout)
        }
    }

    func run() async throws {
        EventLoopSizing.applyCPUAffinity()
        // A bad config file fails here, before anything binds, with file:line:column and the reason.
        let file: ConfigFile?
        do {
            file = try config.map { try ConfigFile.load(path: $0) }
        } catch {
            // The file's own message (file:line:column: reason), not the command's usage.
            FileHandle.standardError.write(Data("vboot serve: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let levelText = logLevel ?? file?.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("--log-level \(levelText) is not a level")
        }
        var configuration = try makeConfiguration(file: file)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "vboot")
        logger.logLevel = level
        do {
            for warning in try VBootServer(configuration: configuration, logger: logger).validate() {
                logger.warning("\(warning)")
            }
            let dataDirectory = configuration.dataDirectory ?? Self.defaultDataDirectory
            configuration.apiAccess.token = try APITokenFile.loadOrCreate(
                path: apiTokenFile ?? file?.apiTokenFile ?? dataDirectory + "/" + APITokenFile.defaultName,
                logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        var reload: ConfigReload?
        if let file {
            // The same order on reload: defaults, the file, then the flags (the token stays).
            let flags = self
            let token = configuration.apiAccess.token
            reload = ConfigReload(path: file.path, machines: file.machines) { reloaded in
                var fresh = ServerConfiguration()
                fresh.dataDirectory = Self.defaultDataDirectory
                reloaded.apply(to: &fresh)
                try flags.applyFlags(to: &fresh)
                fresh.pool = try flags.pool(file: reloaded, listen: fresh.listenAddress)
                fresh.apiAccess.token = token
                return fresh
            }
        }
        let server = VBootServer(configuration: configuration, logger: logger, configReload: reload)
        do {
            try await server.run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}
