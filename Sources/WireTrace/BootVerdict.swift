/// How a client's boot ended on the wire, the most likely cause, and what to change.
public struct BootVerdict: Codable, Hashable, Sendable {
    public var outcome: Outcome
    public var cause: BootCause
    /// One sentence: where it got to, or where it stopped and why.
    public var summary: String
    /// What to change, when there is something to change.
    public var advice: String?
    /// The server the failing step talked to (its address), when the cause is a fetch.
    public var server: String?
    /// Trouble that did not stop this boot (another boot server on the segment) but may stop the next.
    public var warnings: [String] = []

    public enum Outcome: String, Codable, Hashable, Sendable {
        /// It fetched its boot script (and what the script asked for, as far as the capture shows).
        case booted
        /// It stopped; `cause` says where.
        case stopped
        /// The capture ended while it was still going.
        case inProgress = "in-progress"
    }
}

/// The causes a verdict names; stable identifiers for `--json` and tests.
public enum BootCause: String, Codable, Hashable, Sendable, CaseIterable {
    case booted
    case inProgress = "in-progress"
    /// DISCOVERs and nothing answered.
    case noDHCPAnswer = "no-dhcp-answer"
    /// Answers with an address, but nobody offered a boot file (vboot silent: no binary for the
    /// architecture, a machine on hold, a vendor class it does not serve).
    case noBootOffer = "no-boot-offer"
    /// Boot offers came and the client never sent a REQUEST.
    case offersIgnored = "offers-ignored"
    /// It got an address and a boot offer and never asked for a boot file.
    case noBootFileRequest = "no-boot-file-request"
    /// More than one server offered something to boot, and that is where it went wrong.
    case competingBootServers = "competing-boot-servers"
    case tftpError = "tftp-error"
    /// Read requests nobody answered: no TFTP server where the offer pointed.
    case tftpNoAnswer = "tftp-no-answer"
    /// A transfer that stopped: the last block, how often blocks were sent again.
    case tftpStalled = "tftp-stalled"
    /// The client ended a transfer right after the server's OACK: it refused the options.
    case tftpOptionsRefused = "tftp-options-refused"
    /// iPXE fetched an iPXE binary again and again instead of its script.
    case ipxeLoop = "ipxe-loop"
    /// A script or asset answered 4xx/5xx.
    case httpError = "http-error"
    /// A response that never came or stopped part way.
    case httpStalled = "http-stalled"
    /// A loader was downloaded in full and nothing followed (Secure Boot refusing an unsigned one).
    case loaderSilent = "loader-silent"
    /// Stopped, and the wire does not say why.
    case unexplained
}

/// What the judge needs besides the story.
public struct VerdictContext: Hashable, Sendable {
    /// vboot's own addresses, when known: answers from elsewhere are "another server".
    public var vboot: Set<String>
    /// When the capture ended (its last frame, or now for a live trace).
    public var end: Double
    /// Silence after which a transfer, request or client counts as stopped, not in progress.
    public var quiet: Double

    public init(vboot: Set<String> = [], end: Double, quiet: Double = 10) {
        self.vboot = vboot
        self.end = end
        self.quiet = quiet
    }
}
