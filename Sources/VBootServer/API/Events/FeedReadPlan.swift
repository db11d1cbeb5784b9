/// Which store reads one round of the live feed makes: one per distinct cursor among the streams
/// with room, the newest first, so streams that are caught up (they share the newest cursor)
/// are always served; streams catching up (a reconnect with an old `Last-Event-ID`) take the
/// remaining `budget - 1` reads in turn, so one of them cannot hold back the others or the rest.
enum FeedReadPlan {
    static func cursors(_ cursors: [Int64], round: Int, budget: Int) -> [Int64] {
        let distinct = Set(cursors).sorted(by: >)
        guard let newest = distinct.first, budget > 0 else { return [] }
        let behind = Array(distinct.dropFirst())
        guard !behind.isEmpty, budget > 1 else { return [newest] }
        let take = min(budget - 1, behind.count)
        let start = (round % behind.count + behind.count) % behind.count
        return [newest] + (0..<take).map { behind[(start + $0) % behind.count] }
    }
}
