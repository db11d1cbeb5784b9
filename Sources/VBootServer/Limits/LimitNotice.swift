import Logging
import NIOConcurrencyHelpers

/// When to log that a limit was hit: the first time, then at most once per `interval` with how
/// many hits there were since, so a flood of refused requests is a few log lines, not one each.
struct LimitNoticeSchedule: Sendable {
    var interval: Duration = .seconds(60)
    private var lastNotice: ContinuousClock.Instant?
    private var unreported = 0

    init(interval: Duration = .seconds(60)) { self.interval = interval }

    /// Records a hit; returns the hits to report (this one included) when it is time to log.
    mutating func hit(now: ContinuousClock.Instant) -> Int? {
        unreported += 1
        if let lastNotice, now - lastNotice < interval { return nil }
        lastNotice = now
        defer { unreported = 0 }
        return unreported
    }
}

/// The schedules of a service's limits, by name, across threads.
final class LimitNotices: Sendable {
    private let schedules = NIOLockedValueBox<[String: LimitNoticeSchedule]>([:])

    /// Logs `message` (with the count of hits since the last line) at warning when it is time.
    func hit(_ limit: String, logger: Logger, _ message: @autoclosure () -> String) {
        let due = schedules.withLockedValue { $0[limit, default: LimitNoticeSchedule()].hit(now: .now) }
        guard let due else { return }
        logger.warning("\(message())\(due > 1 ? " (\(due) times since the last notice)" : "")")
    }
}
