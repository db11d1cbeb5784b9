import Foundation
import Glibc

/// SwiftNIO sizes its shared event-loop group by the CPUs the cgroup allows, not by the process's
/// CPU affinity. Under `taskset -c 0` or systemd's `CPUAffinity=` that means two loop threads
/// taking turns on one CPU, paying a context switch where none is needed. Before anything
/// touches NIO, match the loop count to the affinity mask (an explicit
/// NIO_SINGLETON_GROUP_LOOP_COUNT still wins).
enum EventLoopSizing {
    static let variable = "NIO_SINGLETON_GROUP_LOOP_COUNT"

    static func applyCPUAffinity() {
        guard getenv(variable) == nil, let allowed = affinityCPUCount(), allowed > 0,
            allowed < Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        else { return }
        setenv(variable, String(allowed), 0)
    }

    /// The bits set in `Cpus_allowed` of /proc/self/status (Glibc's module does not export
    /// sched_getaffinity).
    static func affinityCPUCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return nil }
        let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
        return mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
    }
}
