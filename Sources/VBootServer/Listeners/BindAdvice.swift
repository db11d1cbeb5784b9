import Glibc
import NIOCore

/// What to do about a listener that could not bind, for its start-up error.
enum BindAdvice {
    static func text(port: Int, error: any Error) -> String? {
        guard (error as? IOError)?.errnoCode == EACCES, (1..<1024).contains(port) else { return nil }
        return
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE: start vboot as root, which switches to the vboot user, or give it AmbientCapabilities=CAP_NET_BIND_SERVICE as packaging/vboot.service does)"
    }
}
