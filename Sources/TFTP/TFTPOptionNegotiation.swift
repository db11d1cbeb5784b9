/// What the server will accept of a client's RFC 2347 options.
public struct TFTPServerLimits: Hashable, Sendable {
    /// RFC 2348 allows 8–65464; a site may cap it lower (e.g. below its MTU).
    public var maximumBlockSize: Int
    /// RFC 7440 allows 1–65535; large windows only add loss bursts.
    public var maximumWindowSize: Int
    /// Retransmission timeout when the client asks for none.
    public var defaultTimeout: Duration
    /// Longest `timeout` a client may ask for (RFC 2349 allows 255 s). A silent client holds its
    /// transfer's slot for the retries times this; longer requests are left out of the OACK.
    public var maximumTimeoutSeconds: Int

    public init(
        maximumBlockSize: Int = TFTPTransferParameters.blockSizeRange.upperBound,
        maximumWindowSize: Int = 64, defaultTimeout: Duration = .seconds(1), maximumTimeoutSeconds: Int = 10
    ) {
        self.maximumBlockSize = maximumBlockSize
        self.maximumWindowSize = maximumWindowSize
        self.defaultTimeout = defaultTimeout
        self.maximumTimeoutSeconds = maximumTimeoutSeconds
    }
}

/// The parameters a read transfer runs with, and the options to put in the OACK.
public struct TFTPTransferParameters: Hashable, Sendable {
    public var blockSize: Int
    public var windowSize: Int
    public var timeout: Duration
    /// Empty: no OACK, the transfer starts with DATA block 1 (RFC 2347 §3).
    public var acknowledgedOptions: [TFTPOption]

    /// The client asked for its own retransmission timeout (RFC 2349), which the server then keeps.
    public var timeoutNegotiated: Bool { acknowledgedOptions.contains { $0.name.lowercased() == "timeout" } }

    /// RFC 1350 §1.
    public static let defaultBlockSize = 512
    /// RFC 2348 §2.
    public static let blockSizeRange = 8...65464
    /// RFC 2349 §2 (seconds).
    public static let timeoutRange = 1...255
    /// RFC 7440 §3.
    public static let windowSizeRange = 1...65535

    public init(
        blockSize: Int = Self.defaultBlockSize, windowSize: Int = 1, timeout: Duration = .seconds(1),
        acknowledgedOptions: [TFTPOption] = []
    ) {
        self.blockSize = blockSize
        self.windowSize = windowSize
        self.timeout = timeout
        self.acknowledgedOptions = acknowledgedOptions
    }

    /// Negotiates a read request's options against `fileSize` and the server's limits. Options the
    /// server does not know, or with values outside their RFC's range, are left out of the OACK,
    /// which RFC 2347 §2 lets a server do.
    public static func negotiate(_ requested: [TFTPOption], fileSize: Int, limits: TFTPServerLimits) -> Self {
        var parameters = Self(timeout: limits.defaultTimeout)
        var seen = Set<String>()
        for option in requested {
            let name = option.name.lowercased()
            guard seen.insert(name).inserted, let value = Int(option.value) else { continue }
            switch name {
            case "blksize" where value >= blockSizeRange.lowerBound:
                parameters.blockSize = min(value, limits.maximumBlockSize, blockSizeRange.upperBound)
                parameters.acknowledgedOptions.append(TFTPOption(option.name, String(parameters.blockSize)))
            case "tsize" where value >= 0:
                parameters.acknowledgedOptions.append(TFTPOption(option.name, String(fileSize)))
            case "timeout" where timeoutRange.contains(value) && value <= limits.maximumTimeoutSeconds:
                parameters.timeout = .seconds(value)
                parameters.acknowledgedOptions.append(TFTPOption(option.name, option.value))
            case "windowsize" where windowSizeRange.contains(value):
                parameters.windowSize = min(value, limits.maximumWindowSize)
                parameters.acknowledgedOptions.append(TFTPOption(option.name, String(parameters.windowSize)))
            default:
                continue
            }
        }
        return parameters
    }
}
