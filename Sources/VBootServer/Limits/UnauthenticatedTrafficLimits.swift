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
