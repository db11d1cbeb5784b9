import BootPolicy
import Foundation

/// The one place TFTP and HTTP get files from: iPXE binaries by name, and the assets tree by
/// path. An assets lookup is confined to its root: `..`, absolute paths, backslashes, NULs and
/// symlinks that leave the root are refused. The iPXE directories give out only known names.
public struct BootFileStore: Sendable {
    /// Where a request was resolved.
    public struct File: Sendable, Hashable {
        public var path: String
        public var size: Int
        public var area: Area
    }

    public enum Area: String, Sendable, Hashable {
        case ipxe, assets
    }

    public enum LookupError: Error, Hashable, Sendable, CustomStringConvertible {
        case refused(String)
        case notFound(String)
        /// A diskless image's file that is not what its manifest names (`ImageVerifier`).
        case unverified(String)
        /// A diskless image's file being checked against its manifest: HTTP waits, TFTP cannot.
        case checking(File)

        public var description: String {
            switch self {
            case .refused(let why): "refused: \(why)"
            case .notFound(let name): "not found: \(name)"
            case .unverified(let why): why
            case .checking(let file): "\(file.path): being checked against its image's manifest; try again"
            }
        }
    }

    /// Debian's `ipxe` package installs here (`/boot` holds only `ipxe.efi` and `ipxe.lkrn`);
    /// `debian-installer-12-netboot-{amd64,arm64}` put the signed shim and GRUB
    /// (`bootnetx64.efi`, `grubx64.efi`; `bootnetaa64.efi`, `grubaa64.efi`) in the last two.
    public static let debianIPXEDirectories = [
        "/usr/lib/ipxe", "/boot",
        "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64",
        "/usr/lib/debian-installer/images/12/arm64/text/debian-installer/arm64",
    ]

    /// The names the boot-file directories give out: iPXE binaries and the shim → GRUB chain.
    public static let bootFileNames = IPXEBinaries.allNames + GRUBChain.allNames

    public let ipxeDirectories: [String]
    public let assetsRoot: String?

    /// The upstream cache's published copy of `UPSTREAM/PATH`: TFTP clients (GRUB under Secure
    /// Boot) cannot wait for a download, but take a copy already there (`vboot assets fetch`, or
    /// fetched over HTTP before). `AssetCache.published`.
    var cached: (@Sendable (String) -> (path: String, size: Int)?)?
    /// Files of diskless images are served only while they match their manifest.
    var images: ImageVerifier?

    public init(ipxeDirectories: [String], assetsRoot: String?) {
        self.ipxeDirectories = ipxeDirectories
        self.assetsRoot = assetsRoot
    }

    /// Binary name → path, first directory wins. Read each time: installing `ipxe` while vboot
    /// runs takes effect without a restart.
    public func installedBinaries() -> [String: String] {
        var found: [String: String] = [:]
        for name in Self.bootFileNames {
            for directory in ipxeDirectories {
                let path = directory + "/" + name
                if found[name] == nil, Self.regularFileSize(path) != nil { found[name] = path }
            }
        }
        return found
    }

    /// TFTP: a boot file name, else a path in the assets tree. A leading `/` names the TFTP root,
    /// as in dnsmasq and tftpd-hpa: GRUB asks for `/debian-12/linux`, shim for `/grubx64.efi`.
    public func resolveTFTP(_ name: String) -> Result<File, LookupError> {
        let relative = String(name.drop { $0 == "/" })
        if !relative.contains("/"), Self.bootFileNames.contains(relative),
            let file = try? resolve(.ipxe, relative).get()
        {
            return .success(file)
        }
        let found = resolve(.assets, relative.isEmpty ? name : relative)
        if case .failure(.notFound) = found, let copy = cached?(relative) {
            return .success(File(path: copy.path, size: copy.size, area: .assets))
        }
        return found
    }

    public func resolve(_ area: Area, _ relativePath: String) -> Result<File, LookupError> {
        if area == .ipxe { return resolveIPXE(relativePath) }
        let components: [Substring]
        switch Self.validate(relativePath) {
        case .success(let parts): components = parts
        case .failure(let error): return .failure(error)
        }
        guard let assetsRoot else { return .failure(.notFound(relativePath)) }
        let found = confined(root: assetsRoot, components: components, area: .assets)
        guard case .success(let file) = found, let state = images?.state(of: file.path) else { return found }
        switch state {
        case .intact: return found
        case .refused(let why): return .failure(.unverified(why))
        case .checking: return .failure(.checking(file))
        }
    }

    /// A boot file name (`bootFileNames`, what TFTP serves), or a file the
    /// `vboot rom build` manifest in a directory lists, from that directory. The directories are
    /// not a file tree to browse (`/boot` holds kernels and initramfs images) and their symlinks
    /// may point anywhere (Debian links /usr/lib/ipxe/ipxe.efi to /boot), so any other name is
    /// not found: no lexical check, no look at the disk, nothing that tells whether it exists.
    private func resolveIPXE(_ name: String) -> Result<File, LookupError> {
        let isBinary = Self.bootFileNames.contains(name)
        for directory in ipxeDirectories where isBinary || ROMBuildManifest.fileNames(in: directory).contains(name) {
            if let real = Self.realPath(directory + "/" + name), let size = Self.regularFileSize(real) {
                return .success(File(path: real, size: size, area: .ipxe))
            }
        }
        return .failure(.notFound(name))
    }

    /// Lexical checks, before touching the file system.
    static func validate(_ path: String) -> Result<[Substring], LookupError> {
        if path.isEmpty { return .failure(.refused("empty file name")) }
        if path.hasPrefix("/") { return .failure(.refused("absolute path \(path)")) }
        if path.contains("\\") { return .failure(.refused("backslash in \(path)")) }
        if path.contains("\0") { return .failure(.refused("NUL in file name")) }
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if components.contains("..") { return .failure(.refused("parent directory in \(path)")) }
        let kept = components.filter { $0 != "." }
        if kept.isEmpty { return .failure(.refused("no file in \(path)")) }
        return .success(kept)
    }

    /// Resolves symlinks and checks the result is still under `root`.
    private func confined(root: String, components: [Substring], area: Area) -> Result<File, LookupError> {
        let joined = components.joined(separator: "/")
        guard let realRoot = Self.realPath(root) else { return .failure(.notFound(joined)) }
        guard let real = Self.realPath(root + "/" + joined) else { return .failure(.notFound(joined)) }
        guard real.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else {
            return .failure(.refused("\(joined) leaves the \(area.rawValue) root"))
        }
        guard let size = Self.regularFileSize(real) else { return .failure(.notFound(joined)) }
        return .success(File(path: real, size: size, area: area))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func regularFileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }
}
