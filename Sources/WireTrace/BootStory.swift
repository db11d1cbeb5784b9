/// One client's boot as the wire saw it: its DHCP exchanges, TFTP transfers and HTTP requests,
/// the notable steps in order, and (at the end) a verdict. What `vboot trace --json` prints.
/// Times are seconds since the Unix epoch; `BootStep.at` is relative to `firstSeen`.
public struct BootStory: Codable, Hashable, Sendable {
    public var mac: String
    /// The last IPv4 address the client used or was given.
    public var address: String?
    /// Option 93 of its first DHCP message, with the registry's name.
    public var architecture: String?
    public var firstSeen: Double
    public var lastSeen: Double
    public var steps: [BootStep] = []
    /// Steps beyond `BootStory.stepLimit`, counted, not kept.
    public var stepsDropped = 0
    public var dhcp = DHCPSeen()
    public var transfers: [TransferSeen] = []
    public var requests: [HTTPSeen] = []
    public var verdict: BootVerdict?

    /// A story keeps this many steps, transfers and requests: an endless loop stays readable
    /// and a capture of days stays bounded in memory.
    public static let stepLimit = 400
    public static let transferLimit = 128
    public static let requestLimit = 256

    public init(mac: String, at time: Double) {
        self.mac = mac
        self.firstSeen = time
        self.lastSeen = time
    }
}

/// A notable moment: a DHCP message, a transfer's start and end, an HTTP request and its status.
public struct BootStep: Codable, Hashable, Sendable {
    /// Seconds since the story's first packet.
    public var at: Double
    /// dhcp, tftp or http.
    public var kind: String
    public var text: String
    /// The same step seen again in a row (a firmware repeating its DISCOVER): counted here.
    public var count = 1
}

/// The DHCP side of one client's boot.
public struct DHCPSeen: Codable, Hashable, Sendable {
    public var discovers = 0
    public var requests = 0
    /// DISCOVERs and REQUESTs that carried iPXE's user class or option 175: iPXE is running.
    public var fromIPXE = 0
    /// Requests to port 4011 (PXE boot server discovery; iPXE's ProxyDHCP request), and to whom.
    public var bootServerRequests = 0
    public var bootServersAsked: [String] = []
    public var offers: [OfferSeen] = []
    public var acks: [OfferSeen] = []
    public var naks = 0
    /// When the client last sent a DISCOVER or REQUEST, and when it last heard an answer.
    public var lastAsked: Double?
    public var lastAnswered: Double?
    /// Whether the client's latest DISCOVER or REQUEST came from iPXE (answers go to that program).
    public var lastAskWasIPXE = false
    /// When iPXE last asked: the loader it came from did start.
    public var lastIPXEAsk: Double?
}

/// An OFFER or ACK from one server, merged with its repeats.
public struct OfferSeen: Codable, Hashable, Sendable {
    /// Option 54, else the IP sender.
    public var server: String
    /// address (carries `yiaddr`), proxy (no address: a proxyDHCP or PXE boot server reply).
    public var kind: String
    public var address: String?
    public var bootFile: String?
    /// `siaddr`, when not 0.0.0.0.
    public var nextServer: String?
    /// The PXE boot menu's entries (option 43, sub-option 9): the client is to ask a boot server
    /// (port 4011) for one of them (dnsmasq's `pxe-service`).
    public var menu: [String]?
    /// Sent to a client that was already iPXE.
    public var toIPXE: Bool
    public var count: Int
    public var firstAt: Double

    /// Whether it tells the client what to boot: a boot file or a PXE boot menu. A next-server
    /// alone is not an offer to boot (dnsmasq puts its own address in every answer).
    public var offersBoot: Bool { bootFile != nil || menu != nil }
}

/// One TFTP read request and what followed on its transfer port.
public struct TransferSeen: Codable, Hashable, Sendable {
    public var file: String
    public var server: String
    public var started: Double
    public var lastPacket: Double
    /// The server's last packet: a stalled transfer is one the server stopped sending on, however
    /// long the client goes on repeating its acknowledgement.
    public var lastFromServer: Double?
    /// Read requests sent (a client repeats one nobody answers).
    public var requests = 1
    /// Options the client asked for, and the ones the server's OACK agreed to.
    public var requested: [String: String]
    public var acknowledged: [String: String]?
    public var bytes = 0
    /// The highest block number seen, counting past 65535 (RFC 7440 rollover).
    public var lastBlock = 0
    /// Blocks not in the capture (counted as full blocks in `bytes`).
    public var unseenBlocks = 0
    /// DATA blocks seen again (the server resent them: the client did not acknowledge in time).
    public var retransmissions = 0
    /// running, complete or error.
    public var state = "running"
    public var error: String?
    /// client or server: who sent the ERROR.
    public var errorFrom: String?

    /// The largest DATA block seen: the block size when the OACK was not captured.
    public var largestBlock = 0

    /// The agreed block size (RFC 2348), else the largest block seen, at least RFC 1350's 512.
    public var blockSize: Int {
        // RFC 2348 §2: 8 to 65464; anything else in an OACK is not a block size to count with.
        if let agreed = acknowledged?["blksize"].flatMap({ Int($0) }), (8...65_464).contains(agreed) { return agreed }
        return max(512, largestBlock)
    }
    public var expectedSize: Int? { acknowledged?["tsize"].flatMap { Int($0) } }
}

/// One HTTP request and its response as far as the capture shows it.
public struct HTTPSeen: Codable, Hashable, Sendable {
    public var method: String
    public var path: String
    public var server: String
    public var started: Double
    public var lastPacket: Double
    public var status: Int?
    public var reason: String?
    public var contentLength: Int?
    /// Response body bytes seen (headers excluded, TCP retransmissions counted once).
    public var bytes = 0
    /// waiting (no response yet), receiving, complete, or reset (the connection ended early).
    public var state = "waiting"
}
