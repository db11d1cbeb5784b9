import BootPolicy
import DHCPv4
import Foundation
import Logging
import TFTP
import VBootStore

/// Everything `vboot serve` needs, already validated.
public struct ServerConfiguration: Sendable {
    public enum DHCPMode: String, Sendable, CaseIterable {
        /// proxyDHCP: the site's DHCP server hands out addresses, vboot only boot information.
        case proxy
        /// vboot is the network's DHCP server (isolated labs, VM networks): addresses from
        /// `pool`, boot answers as in proxy mode.
        case full
        /// No DHCP at all (iPXE ROMs with an embedded script, or a site DHCP server that already
        /// points clients at vboot).
        case off
    }

    /// The address vboot announces and binds TFTP/HTTP to; nil = every interface, announcing
    /// the address of the interface each DHCP request arrived on.
    public var listenAddress: IPv4Address?
    /// Restrict DHCP to one interface (SO_BINDTODEVICE).
    public var interface: String?
    public var dhcpMode: DHCPMode = .proxy
    public var httpPort = 8080
    public var tftpPort = 69
    /// Diskless machines' block-device roots (`NBDService`); nil: off.
    public var nbdPort: Int?
    public var dhcpPort = 67
    public var pxePort = 4011
    public var bootScriptsDirectory = ShippedFiles.directory("boot-scripts")
    /// The web console's files (`/ui/` on the API listener): shipped, not a setting.
    public var consoleDirectory = ShippedFiles.directory("ui")
    public var ipxeDirectories: [String] = BootFileStore.debianIPXEDirectories
    public var assetsDirectory: String?
    public var dataDirectory: String?
    public var proxyStrategies = ProxyStrategies()
    public var tftpLimits = TFTPServerLimits()
    /// Concurrent TFTP transfers; further requests get no answer and the client retries. EDK2's
    /// size probe holds a place until its ERROR arrives, which in a storm can be after the real
    /// RRQ: 512 refused 627 of 500 machines' transfers at once.
    public var maximumTFTPTransfers = 1024
    /// TFTP transfer engines (threads), each running its share of the transfers.
    public var tftpThreads = min(UsableCPUs.count, 256)
    /// Per-address transfers, transfer lifetime, read-ahead and shared-copy memory.
    public var tftpResources = TFTPResourceLimits()
    /// Queue, rate and count limits on what unauthenticated traffic can make vboot keep.
    public var unauthenticatedLimits = UnauthenticatedTrafficLimits()
    /// Connection caps and request/idle timeouts of every HTTP listener.
    public var httpLimits = HTTPConnectionLimits()
    /// The API's live timeline streams; not a setting (the defaults hold a site's browsers).
    public var eventStreamLimits = EventStreamLimits()

    /// The addresses `--dhcp full` hands out.
    public var pool: AddressPool?
    /// nil: SQLite in the data directory, or in memory when there is none.
    public var database: DatabaseLocation?
    public var unknownMachines: UnknownMachinePolicy = .script
    public var loader: BootLoader = .ipxe
    /// Variables every profile sees, below each machine's own.
    public var siteVariables: [String: String] = [:]
    public var timelineRetention = TimelineRetention()
    /// Recorded with every timeline event (several servers may share one database).
    public var serverName = ServerConfiguration.hostName()
    /// The API's bearer token and the networks that may read without it.
    public var apiAccess = APIAccess()
    /// Where the API and /metrics listen, besides loopback (`APIListenAddress.effective`).
    public var apiListen: [APIListenAddress] = []
    /// Host names the API answers to besides IP literals, localhost and the host name.
    public var apiHosts: [String] = []
    /// TLS for the API listeners; nil: plain HTTP.
    public var apiTLS: APITLSFiles?
    /// How often the in-memory machine directory (what DHCP consults) is re-read from the store.
    public var directoryRefreshInterval: Duration = .seconds(5)
    public var logLevel: Logger.Level = .info
    /// Started as root: the account to become once the listeners are bound; nil: `vboot`.
    public var user: String?
    /// `--upstream`: mirrors `/assets/NAME/…` is fetched from on a miss.
    public var upstreams: [Upstream] = []
    public var cache = CacheSettings()
    /// `--capture`: the interface whose DHCP traffic `WireWatchService` watches; nil: none.
    public var captureInterface: String?
    /// nil: `api-token` in the data directory.
    public var apiTokenFile: String?
    /// The settings the config file and flags gave, as written (what a reload compares).
    public var givenSettings = SettingValues()

    public init() {}
}

/// Where the inventory lives.
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// `postgres://…`, `sqlite:PATH` or a plain path to an SQLite file.
    public init(_ text: String) throws(ConfigurationError) {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            do { self = .postgres(try PostgresURL(text)) } catch { throw ConfigurationError("\(error)") }
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else if text.contains("://") {
            throw ConfigurationError("database \(text): expected postgres://… or an SQLite file path")
        } else {
            self = .sqlite(path: text)
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "SQLite \(path)"
        case .postgres(let url): "\(url)"
        }
    }
}

public struct TimelineRetention: Sendable, Hashable {
    public var perMachine = 1000
    public var days = 30
    public init() {}
}

extension ServerConfiguration {
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "vboot" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
