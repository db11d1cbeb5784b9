import Glibc
import Logging

/// A storm holds a socket per TFTP transfer and HTTP connection plus a file per download: more
/// than the 1,024 descriptors a systemd service gets by default. The soft limit goes up to the
/// hard one at start, as nginx's worker_rlimit_nofile and Go's runtime do.
enum FileDescriptorLimit {
    static func raise(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("open files limit raised from \(before) to \(limit.rlim_max)")
        } else {
            logger.warning("open files limit stays at \(before): \(String(cString: strerror(errno)))")
        }
    }
}
