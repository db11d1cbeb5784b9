import Foundation

/// The directories vboot ships beside its binary (boot-scripts, the iPXE recipe). In a checkout
/// they are `./NAME`; installed, `PREFIX/share/vboot/NAME` for a binary in `PREFIX/bin` (the
/// Debian package: /usr/bin/vboot and /usr/share/vboot), so the service's default needs no path.
public enum ShippedFiles {
    /// `./NAME` when it exists, else the installed copy when that exists, else `./NAME` (so a
    /// missing directory is reported by the name a user in a checkout expects).
    public static func directory(_ name: String) -> String {
        let local = "./" + name
        if FileManager.default.fileExists(atPath: local) { return local }
        guard let installed = installedDirectory(name), FileManager.default.fileExists(atPath: installed) else {
            return local
        }
        return installed
    }

    /// The iPXE recipe's embedded-script template, which `vboot rom build` compiles in and
    /// `vboot serve` answers `autoexec.ipxe` with.
    public static let embeddedScriptTemplate = "ipxe/embed.ipxe"

    /// Where a shipped file is looked for: `./PATH`, then the installed copy.
    public static func candidates(_ path: String) -> [String] {
        ["./" + path] + (installedDirectory(path).map { [$0] } ?? [])
    }

    /// The contents of the first of `candidates(path)` that can be read; nil when none can (a
    /// `./ipxe` of binaries without `embed.ipxe` does not hide the installed one).
    public static func contents(_ path: String) -> String? {
        for candidate in candidates(path) {
            if let data = FileManager.default.contents(atPath: candidate) {
                return String(decoding: data, as: UTF8.self)
            }
        }
        return nil
    }

    /// `PREFIX/share/vboot/NAME` for the running binary `PREFIX/bin/vboot`; nil if it is not in a `bin`.
    static func installedDirectory(_ name: String) -> String? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        return installedDirectory(name, executable: executable)
    }

    static func installedDirectory(_ name: String, executable: String) -> String? {
        let bin = URL(fileURLWithPath: executable).deletingLastPathComponent()
        guard bin.lastPathComponent == "bin" else { return nil }
        return bin.deletingLastPathComponent().appendingPathComponent("share/vboot/\(name)").path
    }
}
