import Foundation
import NIOCore

/// The CPUs this process may run on: the cgroup's quota (NIO's `System.coreCount`) and the
/// affinity mask (`taskset`, systemd's `CPUAffinity=`), whichever allows fewer.
public enum UsableCPUs {
    public static var count: Int { max(1, min(System.coreCount, affinityCount ?? System.coreCount)) }

    /// The bits set in `Cpus_allowed` of /proc/self/status (Glibc's module does not export
    /// sched_getaffinity).
    public static var affinityCount: Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return nil }
        let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
        return mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    }
}
