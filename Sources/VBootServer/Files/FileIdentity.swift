import Glibc

/// What says a file on disk is still the one read before: a replaced or edited file changes
/// its inode, size, modification or change time. File times tick coarsely (a few milliseconds), so two
/// same-size writes in one tick look alike: a file changed within the last second is not
/// "settled" and caches read it again each time (git's racy-index rule).
struct FileIdentity: Hashable, Sendable {
    var size: Int
    var modified: Int64
    /// The inode change time: a file put back with its old modification time (`cp -p`,
    /// `rsync -t`, `tar x`) and a recycled inode number still differs here.
    var changed: Int64
    var inode: UInt64
    var isRegularFile: Bool

    /// What says the bytes are the same, leaving out the change time (setting a file's access
    /// time, as the upstream cache does for its LRU order, moves it).
    struct Content: Hashable, Sendable {
        var inode: UInt64
        var size: Int
        var modified: Int64
    }

    var content: Content { Content(inode: inode, size: size, modified: modified) }

    /// Nil when `path` cannot be stat'd (missing, unreadable directory).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    /// The file an open descriptor reads, whatever its path names now.
    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        self.init(info)
    }

    private init(_ info: stat) {
        size = Int(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        inode = UInt64(info.st_ino)
        isRegularFile = info.st_mode & S_IFMT == S_IFREG
    }

    static let settleTime: Int64 = 1_000_000_000

    var isSettled: Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return modified < Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - Self.settleTime
    }
}
