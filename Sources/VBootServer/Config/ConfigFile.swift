import BootPolicy
import DHCPv4
import Foundation
import Yams

/// `vboot serve --config FILE`: server settings, site variables and declared machines in YAML.
/// Every field is optional; command-line flags win over the file. Relative paths are relative
/// to the file's directory.
///
///     listen: 10.0.0.2
///     dhcp: proxy
///     boot_scripts: boot-scripts
///     unknown_machines: register
///     api: { token_file: /var/lib/vboot/api-token, read_networks: [10.0.0.0/24] }
///     # api: { listen: [10.0.0.2:8443], hosts: [vboot.lab], tls_cert: api.crt, tls_key: api.key }
///     timeline: { per_machine: 1000, days: 30 }
///     variables: { mirror: "http://mirror.lan/debian" }
///     machines:
///       - { mac: "52:54:00:12:34:56", hostname: node1, profile: debian, next_boot: once }
public struct ConfigFile: Sendable {
    public var path: String
    public var listen: IPv4Address?
    public var interface: String?
    public var dhcp: ServerConfiguration.DHCPMode?
    public var httpPort: Int?
    public var tftpPort: Int?
    public var dhcpPort: Int?
    public var pxePort: Int?
    public var bootScripts: String?
    public var ipxeDirectories: [String]?
    public var assets: String?
    public var dataDirectory: String?
    public var database: DatabaseLocation?
    public var unknownMachines: UnknownMachinePolicy?
    public var proxyStrategies: ProxyStrategies?
    public var maximumTFTPTransfers: Int?
    public var tftpResources: TFTPResourceLimits?
    /// `dhcp_queue_limit`, `unknown_event_rate`, … (UnauthenticatedTrafficLimits.keys).
    public var unauthenticatedLimits: [String: Int] = [:]
    public var maximumHTTPConnections: Int?
    public var maximumHTTPConnectionsPerClient: Int?
    public var httpRequestTimeoutSeconds: Int?
    public var httpIdleTimeoutSeconds: Int?
    public var logLevel: String?
    /// The account to run as once the listeners are bound (`--user`).
    public var user: String?
    public var apiTokenFile: String?
    public var apiReadNetworks: [IPv4Network]?
    public var apiListen: [APIListenAddress]?
    public var apiHosts: [String]?
    public var apiTLSCertificate: String?
    public var apiTLSKey: String?
    public var timelineRetention: TimelineRetention?
    public var pool: PoolSettings?
    public var variables: [String: String] = [:]
    /// Declared machines. Their identity, profile and variables follow the file on every load;
    /// `next_boot` is only the state a machine starts in when the file first adds it.
    public var machines: [Machine] = []

    static let topLevelKeys =
        [
            "listen", "interface", "dhcp", "http_port", "tftp_port", "dhcp_port", "pxe_port", "boot_scripts",
            "ipxe_dir",
            "assets", "data_dir", "database", "unknown_machines", "pxe_strategy", "max_tftp_transfers", "log_level",
            "user",
            "api", "timeline", "variables", "machines", "pool",
            "max_tftp_transfers_per_address", "tftp_transfer_lifetime", "tftp_read_ahead_budget", "tftp_shared_copies",
            "max_http_connections", "max_http_connections_per_client", "http_request_timeout", "http_idle_timeout",
        ] + UnauthenticatedTrafficLimits.keys

    public static func load(path: String) throws(ConfigError) -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, line: 0, column: 0, reason: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> ConfigFile {
        let reader = ConfigReader(path: path)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else { return ConfigFile(path: path) }
            root = composed
        } catch let error as YamlError {
            throw reader.error(from: error)
        } catch {
            throw ConfigError(path: path, line: 0, column: 0, reason: "\(error)")
        }
        var file = ConfigFile(path: path)
        let top = try reader.mapping(root, "the top level", known: topLevelKeys)
        let base = (path as NSString).deletingLastPathComponent
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/") || base.isEmpty ? relative : base + "/" + relative
        }
        for (key, node) in top {
            switch key {
            case "listen":
                file.listen = try reader.parsed(node, key, "an IPv4 address") { IPv4Address($0) }
            case "interface": file.interface = try reader.string(node, key)
            case "dhcp":
                file.dhcp = try reader.choice(node, key, ServerConfiguration.DHCPMode.allCases.map(\.rawValue)) {
                    ServerConfiguration.DHCPMode(rawValue: $0)
                }
            case "http_port": file.httpPort = try reader.integer(node, key, in: 0...65535)
            case "tftp_port": file.tftpPort = try reader.integer(node, key, in: 0...65535)
            case "dhcp_port": file.dhcpPort = try reader.integer(node, key, in: 0...65535)
            case "pxe_port": file.pxePort = try reader.integer(node, key, in: 0...65535)
            case "boot_scripts": file.bootScripts = resolve(try reader.string(node, key))
            case "ipxe_dir":
                if node.sequence != nil {
                    file.ipxeDirectories = try reader.strings(node, key).map(resolve)
                } else {
                    file.ipxeDirectories = [resolve(try reader.string(node, key))]
                }
            case "assets": file.assets = resolve(try reader.string(node, key))
            case "data_dir": file.dataDirectory = resolve(try reader.string(node, key))
            case "database":
                let text = try reader.string(node, key)
                do {
                    let location = try DatabaseLocation(text)
                    file.database = location
                    if case .sqlite(let sqlitePath) = location { file.database = .sqlite(path: resolve(sqlitePath)) }
                } catch {
                    throw reader.error(at: node, "database: \(error)")
                }
            case "unknown_machines":
                file.unknownMachines = try reader.choice(node, key, UnknownMachinePolicy.allCases.map(\.rawValue)) {
                    UnknownMachinePolicy(rawValue: $0)
                }
            case "pxe_strategy":
                var strategies = ProxyStrategies()
                for (family, value) in try reader.mapping(node, key, known: FirmwareFamily.allCases.map(\.rawValue)) {
                    do { try strategies.apply("\(family)=\(try reader.string(value, "\(key).\(family)"))") } catch {
                        throw reader.error(at: value, "\(key).\(family): \(error)")
                    }
                }
                file.proxyStrategies = strategies
            case "max_tftp_transfers": file.maximumTFTPTransfers = try reader.integer(node, key, in: 1...65536)
            case "user": file.user = try reader.string(node, key)
            case _ where TFTPResourceLimits.configKeys.contains(key):
                var limits = file.tftpResources ?? TFTPResourceLimits()
                try limits.read(key, node, reader)
                file.tftpResources = limits
            case _ where UnauthenticatedTrafficLimits.keys.contains(key):
                file.unauthenticatedLimits[key] = try reader.integer(node, key, in: 1...10_000_000)
            case "max_http_connections": file.maximumHTTPConnections = try reader.integer(node, key, in: 1...1_000_000)
            case "max_http_connections_per_client":
                file.maximumHTTPConnectionsPerClient = try reader.integer(node, key, in: 1...1_000_000)
            case "http_request_timeout": file.httpRequestTimeoutSeconds = try reader.integer(node, key, in: 1...3600)
            case "http_idle_timeout": file.httpIdleTimeoutSeconds = try reader.integer(node, key, in: 1...86400)
            case "log_level":
                file.logLevel = try reader.choice(
                    node, key, ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                ) { $0 }
            case "api":
                let known = ["token_file", "read_networks", "listen", "hosts", "tls_cert", "tls_key"]
                for (field, value) in try reader.mapping(node, key, known: known) {
                    switch field {
                    case "token_file": file.apiTokenFile = resolve(try reader.string(value, "api.token_file"))
                    case "listen":
                        file.apiListen = try reader.sequence(value, "api.listen").map { item throws(ConfigError) in
                            try reader.parsed(item, "api.listen", "ADDRESS:PORT like 10.0.0.2:8081 or [::1]:8081") {
                                APIListenAddress($0)
                            }
                        }
                    case "hosts":
                        file.apiHosts = try reader.sequence(value, "api.hosts").map { item throws(ConfigError) in
                            try reader.parsed(item, "api.hosts", "a DNS name like vboot.lab") { APIHostPolicy.name($0) }
                        }
                    case "tls_cert": file.apiTLSCertificate = resolve(try reader.string(value, "api.tls_cert"))
                    case "tls_key": file.apiTLSKey = resolve(try reader.string(value, "api.tls_key"))
                    default:
                        var networks: [IPv4Network] = []
                        for item in try reader.sequence(value, "api.read_networks") {
                            networks.append(
                                try reader.parsed(item, "api.read_networks", "a network like 10.0.0.0/24") {
                                    IPv4Network($0)
                                })
                        }
                        file.apiReadNetworks = networks
                    }
                }
                if (file.apiTLSCertificate == nil) != (file.apiTLSKey == nil) {
                    throw reader.error(at: node, "api: tls_cert and tls_key go together")
                }
            case "timeline":
                var retention = TimelineRetention()
                for (field, value) in try reader.mapping(node, key, known: ["per_machine", "days"]) {
                    if field == "days" {
                        retention.days = try reader.integer(value, "timeline.days", in: 1...36500)
                    } else {
                        retention.perMachine = try reader.integer(value, "timeline.per_machine", in: 1...1_000_000)
                    }
                }
                file.timelineRetention = retention
            case "pool":
                file.pool = try reader.pool(node)
            case "variables":
                for (name, value) in try reader.mapping(node, key, known: nil) {
                    let text = try reader.string(value, "variables.\(name)")
                    do { try Validate.variable(name: name, value: text) } catch {
                        throw reader.error(at: value, error.reason)
                    }
                    file.variables[name] = text
                }
            case "machines":
                let nodes = try reader.sequence(node, key)
                for item in nodes { file.machines.append(try reader.machine(item)) }
                try reader.checkUnique(file.machines, nodes: nodes)
            default:
                break
            }
        }
        return file
    }

    /// Puts the file's settings into `configuration` (flags are applied after, and win).
    public func apply(to configuration: inout ServerConfiguration) {
        if let listen { configuration.listenAddress = listen }
        if let interface { configuration.interface = interface }
        if let dhcp { configuration.dhcpMode = dhcp }
        if let httpPort { configuration.httpPort = httpPort }
        if let tftpPort { configuration.tftpPort = tftpPort }
        if let dhcpPort { configuration.dhcpPort = dhcpPort }
        if let pxePort { configuration.pxePort = pxePort }
        if let bootScripts { configuration.bootScriptsDirectory = bootScripts }
        if let ipxeDirectories { configuration.ipxeDirectories = ipxeDirectories }
        if let assets { configuration.assetsDirectory = assets }
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
        if let database { configuration.database = database }
        if let maximumTFTPTransfers { configuration.maximumTFTPTransfers = maximumTFTPTransfers }
        if let tftpResources { configuration.tftpResources = tftpResources }
        if let apiListen { configuration.apiListen = apiListen }
        if let apiHosts { configuration.apiHosts = apiHosts }
        if let apiTLSCertificate, let apiTLSKey {
            configuration.apiTLS = APITLSFiles(certificate: apiTLSCertificate, key: apiTLSKey)
        }
        for (key, value) in unauthenticatedLimits { _ = configuration.unauthenticatedLimits.set(key, to: value) }
        if let maximumHTTPConnections { configuration.httpLimits.maximumConnections = maximumHTTPConnections }
        if let maximumHTTPConnectionsPerClient {
            configuration.httpLimits.maximumConnectionsPerClient = maximumHTTPConnectionsPerClient
        }
        if let httpRequestTimeoutSeconds {
            configuration.httpLimits.requestTimeout = .seconds(httpRequestTimeoutSeconds)
        }
        if let httpIdleTimeoutSeconds { configuration.httpLimits.idleTimeout = .seconds(httpIdleTimeoutSeconds) }
        applyReloadable(to: &configuration)
    }

    /// The settings a reload may change while running.
    public func applyReloadable(to configuration: inout ServerConfiguration) {
        if let unknownMachines { configuration.unknownMachines = unknownMachines }
        if let proxyStrategies { configuration.proxyStrategies = proxyStrategies }
        if let apiReadNetworks { configuration.apiAccess.readNetworks = apiReadNetworks }
        if let timelineRetention { configuration.timelineRetention = timelineRetention }
        configuration.siteVariables = variables
    }
}
