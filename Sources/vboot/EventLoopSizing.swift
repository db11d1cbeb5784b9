import Glibc
import VBootServer

/// SwiftNIO sizes its shared event-loop group by the CPUs the cgroup allows, not by the process's
/// CPU affinity. Under `taskset -c 0` or systemd's `CPUAffinity=` that means two loop threads
/// taking turns on one CPU, paying a context switch where none is needed. Before anything
/// touches NIO, match the loop count to the affinity mask (an explicit
/// NIO_SINGLETON_GROUP_LOOP_COUNT still wins).
enum EventLoopSizing {
    static let variable = "NIO_SINGLETON_GROUP_LOOP_COUNT"

    static func applyCPUAffinity() {
        guard getenv(variable) == nil, let allowed = UsableCPUs.affinityCount, allowed > 0,
            allowed < Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        else { return }
        setenv(variable, String(allowed), 0)
    }
}
