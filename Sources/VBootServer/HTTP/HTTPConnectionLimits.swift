/// How many HTTP connections a listener holds, and how long a client may keep one without
/// finishing a request: a LAN host that opens sockets and trickles bytes (slowloris) must not
/// take the descriptors TFTP and sendfile need (the open-files limit is raised to the hard one).
public struct HTTPConnectionLimits: Sendable, Hashable {
    /// Open connections per listener; more get a 503 and are closed at once. Far under the hard
    /// open-files limit of a systemd service (524,288), and far over a 500-machine storm.
    public var maximumConnections = 4096
    /// Open connections from one IP address. A PXE client keeps one or two; NAT in front of a
    /// boot LAN is rare, but a site that has it raises this.
    public var maximumConnectionsPerClient = 64
    /// A request, head and body, arrives whole within this of its first byte (of the connection's
    /// opening, for its first request); trickled bytes do not extend it.
    public var requestTimeout: Duration = .seconds(10)
    /// A kept-alive connection waits this long for the next request's first byte.
    public var idleTimeout: Duration = .seconds(30)

    public init() {}
}
