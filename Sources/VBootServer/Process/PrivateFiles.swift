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
        tighten(path, mode: status.st_mode & 0o777, named: "data directory \(path)", holds: "secrets", logger: logger)
    }

    /// Removes group and other access from an existing file, saying so.
    static func tighten(file path: String, logger: Logger) {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        tighten(path, mode: status.st_mode & 0o777, named: path, holds: "a secret", logger: logger)
    }

    /// The one tighten-and-say-so step both use.
    private static func tighten(_ path: String, mode: mode_t, named name: String, holds what: String, logger: Logger) {
        guard mode & 0o077 != 0 else { return }
        guard chmod(path, mode & 0o700) == 0 else {
            logger.warning("\(name) is mode \(octal(mode)) and cannot be tightened: errno \(errno)")
            return
        }
        logger.notice("\(name) was mode \(octal(mode)); now \(octal(mode & 0o700)) (it holds \(what))")
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    /// Writes a new secret file, created 0600 by open(2) itself (no moment where the secret sits
    /// in a readable file); an existing file is never overwritten. Nil on success, else errno.
    static func create(_ path: String, contents: String) -> Int32? {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let failure = written < 0 ? errno : ENOSPC
            unlink(path)
            return failure
        }
        guard fsync(descriptor) == 0 else {
            let failure = errno
            unlink(path)
            return failure
        }
        return nil
    }
}
