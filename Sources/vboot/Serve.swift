import ArgumentParser
import BootPolicy
import DHCPv4
import Foundation
import Logging
import VBootServer

struct Serve: AsyncParsableCommand {
    /// `vboot rom build`'s default --out.
    static let romBuildOutput = "out/ipxe"

    static let configuration = CommandConfiguration(
        abstract: "Answer PXE clients (proxyDHCP), serve iPXE over TFTP and scripts, kernels and images over HTTP.")

    @Option(
        help:
            "IPv4 address to announce and bind TFTP/HTTP to (default: all interfaces; DHCP announces the receiving interface's address)."
    )
    var listen: String?

    @Option(help: "Answer DHCP only on this interface.")
    var interface: String?

    @Option(help: "DHCP mode: proxy (the site's DHCP server hands out addresses) or off.")
    var dhcp: String = "proxy"

    @Option(help: "HTTP port.") var httpPort: Int = 8080
    @Option(help: "TFTP port.") var tftpPort: Int = 69
    @Option(help: "DHCP server port the proxy listens on.") var dhcpPort: Int = 67
    @Option(help: "PXE boot server port (PXE 2.1 §2.2.4).") var pxePort: Int = 4011

    @Option(help: "Directory with default.ipxe and machines/<mac>.ipxe.")
    var bootScripts: String = "./boot-scripts"

    @Option(
        help:
            "Directory with iPXE binaries (default: the last `vboot rom build` output, ./out/ipxe, then Debian's ipxe package in /usr/lib/ipxe and /boot)."
    )
    var ipxeDir: String?

    @Option(help: "Directory served at /assets/ over HTTP and by path over TFTP (kernels, initrds, images).")
    var assets: String?

    @Option(help: "Directory for vboot's own state: the SQLite inventory and the API token (created if missing).")
    var dataDir: String = "/var/lib/vboot"

    @Option(
        help:
            "Inventory database: postgres://user:pass@host/db (shared by several servers) or an SQLite file (default: vboot.sqlite in --data-dir)."
    )
    var database: String?

    @Option(
        help:
            "What machines not in the inventory get: script (default.ipxe), register (added, then default.ipxe) or ignore."
    )
    var unknownMachines: String = "script"

    @Option(
        help:
            "File holding the API's bearer token; generated and printed once when missing (default: DATA_DIR/api-token)."
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

    @Option(help: "Maximum concurrent TFTP transfers.") var maxTftpTransfers: Int = 512

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func makeConfiguration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let listen {
            guard let address = IPv4Address(listen) else {
                throw ValidationError("--listen \(listen) is not an IPv4 address")
            }
            configuration.listenAddress = address
        }
        configuration.interface = interface
        guard let mode = ServerConfiguration.DHCPMode(rawValue: dhcp) else {
            throw ValidationError(
                "--dhcp \(dhcp): expected one of \(ServerConfiguration.DHCPMode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        configuration.dhcpMode = mode
        for (name, port) in [
            ("--http-port", httpPort), ("--tftp-port", tftpPort), ("--dhcp-port", dhcpPort), ("--pxe-port", pxePort),
        ] {
            guard (0...65535).contains(port) else { throw ValidationError("\(name) \(port) is not a port number") }
        }
        configuration.httpPort = httpPort
        configuration.tftpPort = tftpPort
        configuration.dhcpPort = dhcpPort
        configuration.pxePort = pxePort
        configuration.bootScriptsDirectory = bootScripts
        if let ipxeDir {
            configuration.ipxeDirectories = [ipxeDir]
        } else if FileManager.default.fileExists(atPath: "\(Self.romBuildOutput)/manifest.json") {
            // Binaries built with vboot's embedded script win over Debian's stock ones.
            configuration.ipxeDirectories = [Self.romBuildOutput] + BootFileStore.debianIPXEDirectories
        }
        configuration.assetsDirectory = assets
        configuration.dataDirectory = dataDir
        if let database {
            do { configuration.database = try DatabaseLocation(database) } catch {
                throw ValidationError("--database: \(error)")
            }
        }
        guard let unknown = UnknownMachinePolicy(rawValue: unknownMachines) else {
            throw ValidationError(
                "--unknown-machines \(unknownMachines): expected one of \(UnknownMachinePolicy.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        configuration.unknownMachines = unknown
        for text in apiReadNetworks {
            guard let network = IPv4Network(text) else {
                throw ValidationError("--api-read-network \(text) is not an IPv4 network (10.0.0.0/8)")
            }
            configuration.apiAccess.readNetworks.append(network)
        }
        for text in pxeStrategies {
            do { try configuration.proxyStrategies.apply(text) } catch {
                throw ValidationError("--pxe-strategy: \(error)")
            }
        }
        guard maxTftpTransfers > 0 else { throw ValidationError("--max-tftp-transfers must be positive") }
        configuration.maximumTFTPTransfers = maxTftpTransfers
        return configuration
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level \(logLevel) is not a level")
        }
        var configuration = try makeConfiguration()
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
            configuration.apiAccess.token = try APITokenFile.loadOrCreate(
                path: apiTokenFile ?? dataDir + "/" + APITokenFile.defaultName, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        let server = VBootServer(configuration: configuration, logger: logger)
        do {
            try await server.run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}
