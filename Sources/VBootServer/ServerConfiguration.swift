import BootPolicy
import DHCPv4
import TFTP

/// Everything `vboot serve` needs, already validated.
public struct ServerConfiguration: Sendable {
    public enum DHCPMode: String, Sendable, CaseIterable {
        /// proxyDHCP: the site's DHCP server hands out addresses, vboot only boot information.
        case proxy
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
    public var dhcpPort = 67
    public var pxePort = 4011
    public var bootScriptsDirectory = "./boot-scripts"
    public var ipxeDirectories: [String] = BootFileStore.debianIPXEDirectories
    public var assetsDirectory: String?
    public var dataDirectory: String?
    public var proxyStrategies = ProxyStrategies()
    public var tftpLimits = TFTPServerLimits()
    /// Concurrent TFTP transfers; further requests get an error and retry.
    public var maximumTFTPTransfers = 512

    public init() {}
}
