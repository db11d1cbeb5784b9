import BootPolicy
import Foundation

/// What `vboot serve` checks before binding anything; errors say what to fix.
extension VBootServer {
    /// Throws for a setting that cannot work; returns warnings for ones that work badly.
    public func validate() throws -> [String] {
        try checkDirectories()
        if let apiTLS = configuration.apiTLS { _ = try apiTLS.serverConfiguration() }
        if configuration.dhcpMode == .full { try checkPool() }
        return warnings()
    }

    private func checkDirectories() throws {
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
    }

    /// `--dhcp full`: a server address clients can reach, outside the range it hands out.
    private func checkPool() throws {
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

    private func warnings() -> [String] {
        var warnings: [String] = []
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
}
