import DHCPv4

/// Reads a capture frame by frame and keeps one `BootStory` per client (by MAC; by address behind
/// a router or relay): DHCP on 67/68/4011,
/// TFTP on 69 and the transfer ports each read request opens, HTTP on the given ports. A value
/// type: no I/O, the caller feeds frames (from libpcap, a test or a fuzzer) and reads the stories.
/// Memory is bounded: stories, servers, steps and decoded text are capped (what does not fit is
/// counted, not kept); transfer ports and connections make room by dropping finished and idle ones.
public struct BootTrace: Sendable {
    /// TCP ports whose requests and status lines are read as HTTP.
    public var httpPorts: Set<UInt16>
    public internal(set) var stories: [StoryKey: BootStory] = [:]
    /// Every DHCP server that answered anyone, with what it offered.
    public internal(set) var servers: [String: ServerSeen] = [:]
    public internal(set) var frames = 0
    /// Frames that were part of a boot conversation.
    public internal(set) var decoded = 0
    /// Frames not decoded, by reason (not IPv4, truncated, a DHCP message that does not parse…).
    public internal(set) var skipped: [String: Int] = [:]
    public internal(set) var firstFrame: Double?
    public internal(set) var lastFrame: Double?

    var addresses: [IPv4Address: LinkAddress] = [:]
    /// The first address each MAC sent a TFTP or HTTP request from, and the MACs seen with more.
    var senders: [LinkAddress: IPv4Address] = [:]
    var routers: Set<LinkAddress> = []
    var transfers: [Endpoint: TransferRef] = [:]
    var connections: [Connection: ConnectionState] = [:]

    public static let storyLimit = 100_000
    static let serverLimit = 1_024
    static let latestTimestamp = 10_000_000_000.0
    /// Decoded text kept from the wire (file names, messages, reasons), in bytes.
    public static let textLimit = 256
    static let connectionLimit = 100_000
    /// A transfer or connection silent this long is over, as far as the table is concerned.
    static let idleLimit = 120.0
    static let transferPortLimit = 100_000

    public static let dhcpServerPort: UInt16 = 67
    public static let dhcpClientPort: UInt16 = 68
    public static let tftpPort: UInt16 = 69
    public static let bootServerPort: UInt16 = 4011

    public init(httpPorts: Set<UInt16> = [80, 8080]) {
        self.httpPorts = httpPorts
    }

    /// Stories with MACs first, in the order their clients appeared.
    public var orderedStories: [BootStory] {
        stories.values.sorted { ($0.firstSeen, $0.mac) < ($1.firstSeen, $1.mac) }
    }

    /// One captured frame. Returns the step it added to a story, if it added one (for live output).
    @discardableResult
    public mutating func ingest(
        _ frame: UnsafeRawBufferPointer, linkType: LinkType, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        frames += 1
        // Timestamps come from the file (pcapng's offset and resolution are unchecked by libpcap):
        // 1970 to 2286, else the frame is skipped.
        guard time.isFinite, (0...Self.latestTimestamp).contains(time) else {
            skip("implausible timestamp")
            return nil
        }
        if firstFrame == nil { firstFrame = time }
        lastFrame = max(lastFrame ?? time, time)
        let headers: FrameHeaders
        do {
            headers = try FrameHeaders.parse(frame, linkType: linkType)
        } catch {
            skip(error.description)
            return nil
        }
        let payload = UnsafeRawBufferPointer(
            rebasing: frame[headers.payloadOffset..<headers.payloadOffset + headers.payloadLength])
        switch headers.transport {
        case .udp(let sourcePort, let destinationPort):
            if [Self.dhcpServerPort, Self.bootServerPort].contains(destinationPort)
                || [Self.dhcpServerPort, Self.bootServerPort].contains(sourcePort)
                    && destinationPort == Self.dhcpClientPort
                || sourcePort == Self.bootServerPort
            {
                return dhcp(payload, headers: headers, at: time)
            }
            if destinationPort == Self.tftpPort { return readRequest(payload, headers: headers, at: time) }
            return transferPacket(payload, headers: headers, at: time)
        case .tcp(let sourcePort, let destinationPort, _, _):
            if httpPorts.contains(destinationPort) { return httpFromClient(payload, headers: headers, at: time) }
            if httpPorts.contains(sourcePort) { return httpFromServer(payload, headers: headers, at: time) }
            return nil
        }
    }

    mutating func skip(_ reason: String) {
        skipped[reason, default: 0] += 1
    }

    /// The story of a client: by the MAC its DHCP gave this address to (behind a relay or a router
    /// every client's frames carry the router's MAC), else the frame's sender, else its address.
    mutating func storyKey(mac: LinkAddress?, address: IPv4Address) -> StoryKey {
        if let known = addresses[address] { return .mac(known) }
        guard let mac, mac.rawValue != 0, mac.rawValue & 0x0100_0000_0000 == 0, !routers.contains(mac) else {
            return .address(address)
        }
        // One MAC sending from several addresses is a router or a relay: its clients go by address.
        switch senders[mac] {
        case nil where senders.count < Self.storyLimit: senders[mac] = address
        case let first? where first != address:
            routers.insert(mac)
            return .address(address)
        default: break
        }
        return .mac(mac)
    }

    /// Adds a step to a story (created on first sight); a step that repeats the story's previous
    /// one is counted on it instead.
    mutating func record(
        _ key: StoryKey, at time: Double, kind: String, _ text: String?, update: (inout BootStory) -> Void = { _ in }
    ) -> (story: StoryKey, step: BootStep)? {
        guard var story = stories[key] ?? newStory(key, at: time) else { return nil }
        stories[key] = nil
        story.lastSeen = max(story.lastSeen, time)
        update(&story)
        var added: BootStep?
        if let text {
            if let last = story.steps.last, last.kind == kind, last.text == text {
                story.steps[story.steps.count - 1].count += 1
            } else if story.steps.count < BootStory.stepLimit {
                let step = BootStep(at: time - story.firstSeen, kind: kind, text: text)
                story.steps.append(step)
                added = step
            } else {
                story.stepsDropped += 1
            }
        }
        stories[key] = story
        return added.map { (key, $0) }
    }

    private mutating func newStory(_ key: StoryKey, at time: Double) -> BootStory? {
        guard stories.count < Self.storyLimit else {
            skip("clients beyond \(Self.storyLimit)")
            return nil
        }
        return BootStory(mac: key.description, at: time)
    }
}

/// Which story a packet belongs to.
public enum StoryKey: Hashable, Sendable, CustomStringConvertible {
    case mac(LinkAddress)
    /// A client seen only by its address (a raw-IP capture, or traffic before its DHCP).
    case address(IPv4Address)

    public var description: String {
        switch self {
        case .mac(let mac): mac.description
        case .address(let address): "ip:\(address)"
        }
    }
}

/// A DHCP server on the segment and what it answered.
public struct ServerSeen: Codable, Hashable, Sendable {
    public var address: String
    public var addressOffers = 0
    public var proxyOffers = 0
    public var acks = 0
    public var bootFiles: [String] = []
    public var clients: [String] = []
}

struct Endpoint: Hashable, Sendable {
    var address: IPv4Address
    var port: UInt16
}

/// A TFTP client's transfer port and the transfer it belongs to.
struct TransferRef: Hashable, Sendable {
    var story: StoryKey
    var index: Int
    var server: IPv4Address
}

struct Connection: Hashable, Sendable {
    var client: Endpoint
    var server: Endpoint
}

struct ConnectionState: Hashable, Sendable {
    var story: StoryKey
    /// Its last packet: idle connections make room when the table is full.
    var lastPacket: Double
    /// Indices into the story's requests, oldest unanswered first.
    var pending: [Int] = []
    /// The request whose response body is arriving.
    var receiving: Int?
    /// The next server-to-client sequence number expected (retransmissions are not counted twice).
    var nextSequence: UInt32?
}
