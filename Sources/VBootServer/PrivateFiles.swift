import Foundation
import Glibc
import Logging

/// vboot's state (install tokens, machine variables, the API token) is readable by its owner
/// only: the data directory 0700, its files 0600.
enum PrivateFiles {
    /// Creates `path` 0700, or tightens an existing directory that group or others can enter.
    static func prepareDirectory(_ path: String, logger: Logger) throws {
        var status = stat()
        if stat(path, &status) != 0 {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // createDirectory applies the umask before the attributes; make sure of the result.
            chmod(path, 0o700)
            return
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 != 0 else { return }
        guard chmod(path, mode & 0o700) == 0 else {
            logger.warning("data directory \(path) is mode \(octal(mode)) and cannot be tightened: errno \(errno)")
            return
        }
        logger.notice("data directory \(path) was mode \(octal(mode)); now \(octal(mode & 0o700)) (it holds secrets)")
    }

    /// Removes group and other access from an existing file, saying so.
    static func tighten(file path: String, logger: Logger) {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 != 0 else { return }
        guard chmod(path, mode & 0o700) == 0 else {
            logger.warning("\(path) is mode \(octal(mode)) and cannot be tightened: errno \(errno)")
            return
        }
        logger.notice("\(path) was mode \(octal(mode)); now \(octal(mode & 0o700)) (it holds a secret)")
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }
}
