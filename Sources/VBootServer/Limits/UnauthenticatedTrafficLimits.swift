/// Bounds on what hosts without credentials can make vboot store or queue: any host on a boot
/// LAN can send DHCP with random MACs and fetch scripts. Defaults suit a 2-core host serving a
/// few hundred machines; a boot storm of known machines is never limited by them.
public struct UnauthenticatedTrafficLimits: Hashable, Sendable {
    /// Full-DHCP messages waiting for the store; more are dropped (`dhcp_queue_dropped`).
    public var dhcpQueueLimit = 1024
    /// Timeline events per second for machines not in the inventory, per source (HTTP client,
    /// DHCP relay or client address) and in all.
    public var unknownEventsPerSecondPerSource = 10.0
    public var unknownEventsPerSecond = 200.0
    /// `--unknown-machines register`: new machines per minute, per source and in all.
    public var registrationsPerMinutePerSource = 10.0
    public var registrationsPerMinute = 120.0
    /// Registered machines without a profile; past it, no more are registered.
    public var unassignedMachineLimit = 10_000

    public init() {}
}

extension UnauthenticatedTrafficLimits {
    /// The rate settings by config file key (the `vboot serve` flag is the key with `-` for `_`).
    static let settings: [(key: String, path: WritableKeyPath<Self, Double> & Sendable)] = [
        ("unknown_event_rate", \.unknownEventsPerSecondPerSource),
        ("unknown_event_rate_total", \.unknownEventsPerSecond),
        ("registration_rate", \.registrationsPerMinutePerSource),
        ("registration_rate_total", \.registrationsPerMinute),
    ]

    /// Sets `key` (a name from `settings`, `dhcp_queue_limit` or `unassigned_machine_limit`);
    /// false for another name.
    public mutating func set(_ key: String, to value: Int) -> Bool {
        switch key {
        case "dhcp_queue_limit": dhcpQueueLimit = value
        case "unassigned_machine_limit": unassignedMachineLimit = value
        default:
            guard let setting = Self.settings.first(where: { $0.key == key }) else { return false }
            self[keyPath: setting.path] = Double(value)
        }
        return true
    }

    public static let keys = ["dhcp_queue_limit", "unassigned_machine_limit"] + settings.map(\.key)
}
