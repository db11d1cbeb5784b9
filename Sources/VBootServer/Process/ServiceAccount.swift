import CLinux
import Foundation
import Glibc
import Logging

/// The unprivileged account `vboot serve` runs as. Binding ports below 1024 is the only thing it
/// needs root for; every packet from an untrusted LAN is handled without it.
public struct ServiceAccount: Sendable, Hashable, CustomStringConvertible {
    public static let defaultName = "vboot"

    public var name: String
    public var uid: uid_t
    public var gid: gid_t

    public init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// The account named `name` in the password database, or nil.
    public static func lookup(_ name: String) -> ServiceAccount? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return ServiceAccount(name: name, uid: entry.pw_uid, gid: entry.pw_gid)
    }

    /// The account's groups (its own and the supplementary ones in /etc/group).
    public var groups: [gid_t] {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) == -1 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, gid, &groups, &count) != -1 else { return [gid] }
        }
        return Array(groups.prefix(Int(count)))
    }

    public var description: String { "\(name) (uid \(uid), gid \(gid))" }
}

/// Started as root, `vboot serve` hands its state to the service account and runs itself again
/// as that account, keeping CAP_NET_BIND_SERVICE only when a port is below 1024: the same
/// process a systemd unit with `User=` and `AmbientCapabilities=` starts.
public enum PrivilegeDrop {
    /// The environment variable naming the descriptor the API token arrives on after the switch.
    static let tokenDescriptorVariable = "VBOOT_INHERITED_API_TOKEN_FD"
    static let maximumTokenBytes = 4096

    /// Gives the state to `account` and replaces this process; returns only by throwing.
    /// `apiToken` runs as root, after the data directory exists: the token file may be one only
    /// root can read (/etc/vboot/api-token, 0600), so the token crosses the exec on a pipe.
    public static func become(
        _ account: ServiceAccount, configuration: ServerConfiguration, logger: Logger,
        apiToken: () throws -> String
    ) throws {
        if let data = configuration.dataDirectory {
            do { try PrivateFiles.prepareDirectory(data, logger: logger) } catch {
                throw StartupError("data directory \(data) cannot be created (--data-dir): \(error)")
            }
        }
        let token = try apiToken()
        if let data = configuration.dataDirectory {
            handOver(directory: data, to: account, logger: logger)
        }
        if case .sqlite(let path) = configuration.database {
            for file in [path, path + "-wal", path + "-shm"] { handOver(file, to: account, logger: logger) }
        }
        let keep = capabilities(configuration)
        logger.info(
            "privileges: switching to \(account)\(keep.isEmpty ? ", no capabilities" : " with " + keep.map(\.name).joined(separator: ", "))"
        )
        let groups = account.groups.map { UInt32($0) }
        let mask = keep.reduce(UInt32(0)) { $0 | 1 << $1.rawValue }
        guard vboot_become(account.uid, account.gid, groups, groups.count, mask) == 0 else {
            throw StartupError("cannot switch to \(account): \(String(cString: strerror(errno)))")
        }
        try pass(token)
        // Only this thread has switched; execv replaces the whole process with one that has.
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", arguments)
        throw StartupError("cannot run vboot again as \(account): execv: \(String(cString: strerror(errno)))")
    }

    /// The token written into a pipe whose read end the next image inherits (64 bytes fit in the
    /// pipe's buffer, so the write cannot block).
    private static func pass(_ token: String) throws(StartupError) {
        let bytes = Array(token.utf8)
        // The other side reads at most this much; a pipe holds 64 KiB, so the write never blocks.
        guard bytes.count <= maximumTokenBytes else {
            throw StartupError("the API token is longer than \(maximumTokenBytes) bytes")
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StartupError("pipe: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        close(ends[1])
        guard written == bytes.count else { throw StartupError("cannot pass the API token on: errno \(errno)") }
        setenv(tokenDescriptorVariable, String(ends[0]), 1)
    }

    /// After the switch: the token the root process read, once; nil when vboot did not switch.
    public static func inheritedAPIToken() throws -> String? {
        guard let text = getenv(tokenDescriptorVariable).map({ String(cString: $0) }) else { return nil }
        unsetenv(tokenDescriptorVariable)
        guard let descriptor = Int32(text), descriptor > 2 else {
            throw StartupError("\(tokenDescriptorVariable)=\(text) is not a descriptor")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while bytes.count < maximumTokenBytes {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk.prefix(count)
        }
        let token = String(decoding: bytes, as: UTF8.self)
        guard token.count >= 16 else { throw StartupError("no API token arrived from the root process") }
        return token
    }

    /// One line saying who vboot runs as and with which capabilities.
    public static func logCurrent(logger: Logger) {
        let capabilities = vboot_effective_capabilities()
        let known = Capability.allCases.filter { capabilities & 1 << $0.rawValue != 0 }
        let names =
            capabilities == 0
            ? "none"
            : capabilities == known.reduce(0) { $0 | 1 << $1.rawValue }
                ? known.map(\.name).joined(separator: ", ") : "0x" + String(capabilities, radix: 16)
        let level: Logger.Level = geteuid() == 0 ? .warning : .info
        logger.log(level: level, "privileges: running as uid \(geteuid()), gid \(getegid()), capabilities \(names)")
    }

    /// The capabilities vboot keeps after the switch: no more than its configuration needs.
    public enum Capability: UInt32, CaseIterable, Sendable {
        case netBindService = 10
        case netRaw = 13

        var name: String { self == .netBindService ? "CAP_NET_BIND_SERVICE" : "CAP_NET_RAW" }
    }

    /// Binding below 1024 needs CAP_NET_BIND_SERVICE, `--capture` CAP_NET_RAW.
    static func capabilities(_ configuration: ServerConfiguration) -> [Capability] {
        (privilegedPorts(configuration) ? [.netBindService] : [])
            + (configuration.captureInterface != nil ? [.netRaw] : [])
    }

    /// Ports below 1024 need CAP_NET_BIND_SERVICE (port 0: the kernel picks a free high one).
    static func privilegedPorts(_ configuration: ServerConfiguration) -> Bool {
        var ports = [configuration.httpPort, configuration.tftpPort] + (configuration.nbdPort.map { [$0] } ?? [])
        ports += APIListenAddress.effective(configuration.apiListen).map(\.port)
        if configuration.dhcpMode != .off { ports += [configuration.dhcpPort, configuration.pxePort] }
        return ports.contains { (1..<1024).contains($0) }
    }

    /// The directory and the regular files directly in it. Not through symlinks, and not a file
    /// with a second hard link: either could be planted to hand another file to the account.
    static func handOver(directory: String, to account: ServiceAccount, logger: Logger) {
        guard handOver(directory, to: account, logger: logger, kind: S_IFDIR) else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            handOver(directory + "/" + name, to: account, logger: logger)
        }
    }

    /// True when `path` is a `kind` (a regular file by default) and now the account's.
    @discardableResult
    static func handOver(_ path: String, to account: ServiceAccount, logger: Logger, kind: mode_t = S_IFREG) -> Bool {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == kind else { return false }
        guard kind != S_IFREG || status.st_nlink == 1 else {
            logger.warning("not giving \(path) to \(account.name): it has \(status.st_nlink) hard links")
            return false
        }
        guard status.st_uid != account.uid || status.st_gid != account.gid else { return true }
        if lchown(path, account.uid, account.gid) != 0 {
            logger.warning("cannot give \(path) to \(account.name): \(String(cString: strerror(errno)))")
            return false
        }
        return true
    }
}
