import DHCPv4
import VBootStore

extension Inventory {
    /// Whether an unknown machine may be registered now: random MACs must not grow the
    /// inventory without bound (rate per source and in all, and a cap on machines without a
    /// profile). Refusals are counted and logged once per window; the client still gets the
    /// default script.
    func mayRegister(source: IPv4Address?) -> Bool {
        let now = WallClock.microsecondsNow()
        guard registrations.admit(source: source?.description, now: now) else { return false }
        let limit = configuration.unauthenticatedLimits.unassignedMachineLimit
        guard directory.unassignedCount < limit else {
            counters.increment(.registrationsUnassignedFull)
            if let count = unassignedFull.hit(now: now) {
                logger.warning(
                    "inventory: \(limit) machines without a profile already (--unassigned-machine-limit); \(count) not registered since the last notice, counted as registrations_unassigned_full"
                )
            }
            return false
        }
        return true
    }
}
