import Foundation

/// Wall-clock time as the store keeps it: microseconds since 1970. Servers that share a
/// PostgreSQL inventory compare these, so it is the realtime clock, not a monotonic one.
public enum WallClock {
    public static func microsecondsNow() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }
}
