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

    @Option(
        help:
            "Directory with default.ipxe, machines/<mac>.ipxe and profiles/ (default ./boot-scripts, else /usr/share/vboot/boot-scripts beside an installed /usr/bin/vboot)."
    )
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
        name: .customLong("api-listen"),
        help:
            "ADDRESS:PORT where the API and /metrics listen, besides 127.0.0.1:8081 (dropped when you name a loopback or 0.0.0.0 address); repeatable."
    )
    var apiListen: [String] = []

    @Option(
        name: .customLong("api-host"),
        help:
            "Host name the API answers to besides IP addresses, localhost and this host's name (the DNS-rebinding guard); repeatable."
    )
    var apiHosts: [String] = []

    @Option(help: "PEM certificate (chain) for the API listeners: HTTPS instead of HTTP; needs --api-tls-key.")
    var apiTlsCert: String?

    @Option(help: "PEM private key of --api-tls-cert.")
    var apiTlsKey: String?

    @Option(
        name: .customLong("pxe-strategy"),
        help: "Per firmware family proxy strategy, FAMILY=STRATEGY (bios|uefi = offer|boot-server); repeatable.")
    var pxeStrategies: [String] = []

    @Option(help: "Maximum concurrent TFTP transfers (default 1024).") var maxTftpTransfers: Int?
    @Option(help: "Maximum concurrent TFTP transfers from one IP address (default 16).")
    var maxTftpTransfersPerAddress: Int?
    @Option(help: "Seconds a TFTP transfer may take before it is ended with an error (default 300).")
    var tftpTransferLifetime: Int?
    @Option(help: "MiB all TFTP transfers read from disk may hold in read-ahead buffers (default 256).")
    var tftpReadAheadBudget: Int?
    @Option(help: "MiB of shared in-memory copies of hot TFTP files, each up to 64 MiB (default 256; 0: none).")
    var tftpSharedCopies: Int?

    @Option(help: "--dhcp full: messages waiting for the store; more are dropped (default 1024).")
    var dhcpQueueLimit: Int?
    @Option(help: "Timeline events/s per source for machines not in the inventory (default 10).")
    var unknownEventRate: Int?
    @Option(help: "Timeline events/s from all sources for machines not in the inventory (default 200).")
    var unknownEventRateTotal: Int?
    @Option(help: "--unknown-machines register: new machines/minute per client address (default 10).")
    var registrationRate: Int?
    @Option(help: "--unknown-machines register: new machines/minute in all (default 120).")
    var registrationRateTotal: Int?
    @Option(help: "--unknown-machines register: stop at this many machines without a profile (default 10000).")
    var unassignedMachineLimit: Int?

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

    @Option(
        help: """
            Started as root: the account vboot runs as, switched to before anything binds, keeping \
            only CAP_NET_BIND_SERVICE (default vboot; root keeps root, which is not recommended).
            """)
    var user: String?

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
        if !apiListen.isEmpty {
            configuration.apiListen = try apiListen.map { text in
                guard let address = APIListenAddress(text) else {
                    throw ValidationError("--api-listen \(text): expected ADDRESS:PORT (10.0.0.2:8081, [::1]:8081)")
                }
                return address
            }
        }
        if !apiHosts.isEmpty {
            configuration.apiHosts = try apiHosts.map { text in
                guard let name = APIHostPolicy.name(text) else {
                    throw ValidationError("--api-host \(text) is not a DNS name")
                }
                return name
            }
        }
        switch (apiTlsCert, apiTlsKey) {
        case (let certificate?, let key?): configuration.apiTLS = APITLSFiles(certificate: certificate, key: key)
        case (nil, nil): break
        default: throw ValidationError("--api-tls-cert and --api-tls-key go together")
        }
        for text in pxeStrategies {
            do { try configuration.proxyStrategies.apply(text) } catch {
                throw ValidationError("--pxe-strategy: \(error)")
            }
        }
        let limits = [
            ("dhcp_queue_limit", dhcpQueueLimit), ("unknown_event_rate", unknownEventRate),
            ("unknown_event_rate_total", unknownEventRateTotal), ("registration_rate", registrationRate),
            ("registration_rate_total", registrationRateTotal), ("unassigned_machine_limit", unassignedMachineLimit),
        ]
        for case let (key, value?) in limits {
            guard value > 0 else {
                throw ValidationError("--\(key.replacingOccurrences(of: "_", with: "-")) must be positive")
            }
            _ = configuration.unauthenticatedLimits.set(key, to: value)
        }
        if let maxTftpTransfers {
            guard maxTftpTransfers > 0 else { throw ValidationError("--max-tftp-transfers must be positive") }
            configuration.maximumTFTPTransfers = maxTftpTransfers
        }
        try applyTFTPResourceFlags(to: &configuration.tftpResources)
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

    /// Who to become before binding: started as root, `--user` (or the file's `user`), else the
    /// `vboot` account, which must exist; not root: nobody to switch to.
    func serviceAccount(file: ConfigFile?, logger: Logger) throws -> ServiceAccount? {
        let named = user ?? file?.user
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
            let tokenPath =
                apiTokenFile ?? file?.apiTokenFile
                ?? (configuration.dataDirectory ?? Self.defaultDataDirectory) + "/" + APITokenFile.defaultName
            if let account = try serviceAccount(file: file, logger: logger) {
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
            configuration.apiAccess.token =
                try PrivilegeDrop.inheritedAPIToken() ?? APITokenFile.loadOrCreate(path: tokenPath, logger: logger)
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
