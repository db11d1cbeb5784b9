/// One boot step of a machine (`GET /machines/{id}/timeline`, `GET /timeline`).
public struct TimelineEvent: Codable, Hashable, Sendable {
    public var id: Int64
    public var mac: String?
    public var address: String?
    /// ISO 8601, UTC, microseconds.
    public var at: String
    /// dhcp, tftp, script, asset, callback, change or wire (another server's answer, seen by `--capture`).
    public var kind: String
    /// ok, aborted, failed or refused.
    public var outcome: String
    public var summary: String
    public var details: [String: String]
    /// The server that recorded it (several may share one database).
    public var server: String

    public init(
        id: Int64, mac: String?, address: String?, at: String, kind: String, outcome: String, summary: String,
        details: [String: String], server: String
    ) {
        self.id = id
        self.mac = mac
        self.address = address
        self.at = at
        self.kind = kind
        self.outcome = outcome
        self.summary = summary
        self.details = details
        self.server = server
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(mac, forKey: .mac)
        try container.encode(address, forKey: .address)
        try container.encode(at, forKey: .at)
        try container.encode(kind, forKey: .kind)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(summary, forKey: .summary)
        try container.encode(details, forKey: .details)
        try container.encode(server, forKey: .server)
    }
}

/// A page of events, newest first.
public struct TimelinePage: Codable, Hashable, Sendable {
    public var events: [TimelineEvent]
    public init(events: [TimelineEvent]) { self.events = events }
}
