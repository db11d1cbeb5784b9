/// A machine as the API shows it (`GET /machines/{id}`, and in `MachineList`). Absent values are
/// written as `null`, so every field is always there.
public struct MachineResource: Codable, Hashable, Sendable {
    public var mac: String
    public var uuid: String?
    public var serial: String?
    public var hostname: String?
    public var profile: String?
    public var variables: [String: String]
    /// profile, once, local, shell or hold.
    public var nextBoot: String
    /// `callback` or `fetches:N`.
    public var onceCompletion: String
    public var installFetches: Int
    public var installHandedOut: Bool
    public var proxyStrategy: String?
    /// ipxe or grub; null = the site's loader.
    public var loader: String?
    public var address: String?
    /// ISO 8601, UTC, microseconds.
    public var createdAt: String
    public var updatedAt: String

    public init(
        mac: String, uuid: String?, serial: String?, hostname: String?, profile: String?, variables: [String: String],
        nextBoot: String, onceCompletion: String, installFetches: Int, installHandedOut: Bool, proxyStrategy: String?,
        address: String?, createdAt: String, updatedAt: String, loader: String? = nil
    ) {
        self.mac = mac
        self.uuid = uuid
        self.serial = serial
        self.hostname = hostname
        self.profile = profile
        self.variables = variables
        self.nextBoot = nextBoot
        self.onceCompletion = onceCompletion
        self.installFetches = installFetches
        self.installHandedOut = installHandedOut
        self.proxyStrategy = proxyStrategy
        self.loader = loader
        self.address = address
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case mac, uuid, serial, hostname, profile, variables, address, loader
        case nextBoot = "next_boot", onceCompletion = "once_completion", installFetches = "install_fetches"
        case installHandedOut = "install_handed_out", proxyStrategy = "proxy_strategy"
        case createdAt = "created_at", updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mac, forKey: .mac)
        try container.encode(uuid, forKey: .uuid)
        try container.encode(serial, forKey: .serial)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(profile, forKey: .profile)
        try container.encode(variables, forKey: .variables)
        try container.encode(nextBoot, forKey: .nextBoot)
        try container.encode(onceCompletion, forKey: .onceCompletion)
        try container.encode(installFetches, forKey: .installFetches)
        try container.encode(installHandedOut, forKey: .installHandedOut)
        try container.encode(proxyStrategy, forKey: .proxyStrategy)
        try container.encode(loader, forKey: .loader)
        try container.encode(address, forKey: .address)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// `GET /machines`.
public struct MachineList: Codable, Hashable, Sendable {
    public var machines: [MachineResource]
    public init(machines: [MachineResource]) { self.machines = machines }
}
