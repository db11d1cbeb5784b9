/// What one host and all TFTP transfers together may hold (issue 11, medium 5), beside
/// `ServerConfiguration.maximumTFTPTransfers` and the option limits of `TFTPServerLimits`.
public struct TFTPResourceLimits: Sendable, Hashable {
    /// What each setting may be, for the flags and the config file alike (MiB for the budgets).
    public static let perAddressRange = 1...65536
    public static let lifetimeSecondsRange = 1...86400
    public static let readAheadMiBRange = 1...65536
    public static let sharedCopiesMiBRange = 0...65536

    /// Concurrent transfers from one IP address. One machine needs two (EDK2's size probe and its
    /// download; iPXE one at a time) plus a few for retries from a new port; 16 leaves room for a
    /// handful of machines behind one NAT or relay. A lab where many boot through one address
    /// raises it.
    public var maximumTransfersPerAddress = 16
    /// A transfer not finished by then is ended with an ERROR. A 1 GiB image at 10 MB/s takes
    /// 100 s; a client that acknowledges one block per timeout would otherwise never finish.
    public var transferLifetime: Duration = .seconds(300)
    /// All read-ahead chunks of transfers read from disk, together. Each transfer wants
    /// blksize × windowsize (up to 4 MiB), and gets at least one block.
    public var readAheadBudget = 256 << 20
    /// Whole in-memory copies of often-fetched files, shared by every transfer of them.
    public var sharedFileCopies = 256 << 20
    /// The largest file kept as a shared copy; bigger ones are read from disk.
    public static let largestSharedFile = 64 << 20

    public init() {}
}
