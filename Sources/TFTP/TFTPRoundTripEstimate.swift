/// A transfer's retransmission timeout from its measured round trips, as RFC 6298 §2 computes
/// TCP's: smoothed round trip plus four times its variation. Two departures, both for a LAN boot
/// server: the floor is 200 ms (Linux TCP's), not one second, and the ceiling is the transfer's
/// configured timeout, so a measured path only ever makes the server resend sooner.
public struct TFTPRoundTripEstimate: Hashable, Sendable {
    /// The lowest timeout: below it a client that pauses to write a block out would see its
    /// blocks twice.
    public static let floor = Duration.milliseconds(200)
    /// RFC 6298's G: how late a timer may fire. The TFTP engine looks at its timers this often.
    public static let granularity = Duration.milliseconds(10)
    /// RFC 6298 §2.3's gains: α = 1/8 for the smoothed round trip, β = 1/4 for its variation.
    static let alpha = 0.125
    static let beta = 0.25
    /// RFC 6298's K: how many variations above the smoothed round trip the timeout sits.
    static let k = 4

    public let ceiling: Duration
    public private(set) var smoothed: Duration?
    public private(set) var variation: Duration = .zero

    public init(ceiling: Duration) { self.ceiling = ceiling }

    /// The timeout to wait for an ACK now: the ceiling until the first sample.
    public var timeout: Duration {
        guard let smoothed else { return ceiling }
        let estimate = smoothed + max(Self.granularity, variation * Self.k)
        return min(ceiling, max(Self.floor, estimate))
    }

    /// One round trip, from a window sent once to the ACK of its last block (RFC 6298 §3, Karn:
    /// never a resent one, whose ACK may answer either copy).
    public mutating func add(_ sample: Duration) {
        guard let previous = smoothed else {
            smoothed = sample
            variation = sample / 2
            return
        }
        let difference = previous > sample ? previous - sample : sample - previous
        variation = variation * (1 - Self.beta) + difference * Self.beta
        smoothed = previous * (1 - Self.alpha) + sample * Self.alpha
    }
}
