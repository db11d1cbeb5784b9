/// One address of the `--dhcp full` lease table.
public struct LeaseResource: Codable, Hashable, Sendable {
    public var address: String
    /// nil for a quarantined (DECLINEd) address.
    public var mac: String?
    /// offered, bound, declined or released.
    public var state: String
    /// Held now (not expired).
    public var active: Bool
    public var expiresAt: String
    public var hostname: String?
    public var server: String

    public init(
        address: String, mac: String?, state: String, active: Bool, expiresAt: String, hostname: String?,
        server: String
    ) {
        self.address = address
        self.mac = mac
        self.state = state
        self.active = active
        self.expiresAt = expiresAt
        self.hostname = hostname
        self.server = server
    }

    enum CodingKeys: String, CodingKey {
        case address, mac, state, active, hostname, server
        case expiresAt = "expires_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(address, forKey: .address)
        try container.encode(mac, forKey: .mac)
        try container.encode(state, forKey: .state)
        try container.encode(active, forKey: .active)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(server, forKey: .server)
    }
}

/// `GET /leases`.
public struct LeaseList: Codable, Hashable, Sendable {
    public var leases: [LeaseResource]
    public init(leases: [LeaseResource]) { self.leases = leases }
}

/// The installer callback's answer (`/machines/{id}/done`).
public struct CallbackResult: Codable, Hashable, Sendable {
    public var mac: String
    public var nextBoot: String
    /// false when the install was already done (a repeated callback).
    public var changed: Bool

    public init(mac: String, nextBoot: String, changed: Bool) {
        self.mac = mac
        self.nextBoot = nextBoot
        self.changed = changed
    }

    enum CodingKeys: String, CodingKey {
        case mac, changed
        case nextBoot = "next_boot"
    }
}
