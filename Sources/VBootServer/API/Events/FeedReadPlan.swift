/// Which store reads one round of the live feed makes: one per distinct cursor among the streams
/// with room, the most advanced first (streams that are caught up share it, so they are served
/// every round); the others (a reconnect with an old `Last-Event-ID`, a stream started a moment
/// apart) take the remaining `budget - 1` reads in turn, so none of them holds back the rest.
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
