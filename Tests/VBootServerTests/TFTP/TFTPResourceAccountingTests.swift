import BootPolicy
import Foundation
import Testing

@testable import VBootServer

/// The accounting behind the TFTP limits: the default read-ahead budget under a storm, shared
/// copies that stay within their total, and how often a hit limit is logged.
@Suite("TFTP resource accounting")
struct TFTPResourceAccountingTests {
    /// The issue's worst case: 1024 transfers of blksize 65464 × windowsize 64 (4 MiB each)
    /// would want 4 GiB; the default budget holds them all in 256 MiB, each with at least a block.
    @Test func a1024TransferStormStaysWithinTheBudget() {
        let limits = TFTPResourceLimits()
        var budget = TFTPReadAheadBudget(total: limits.readAheadBudget, slots: 1024)
        let window = 65464 * 64
        var grants: [Int] = []
        for _ in 0..<1024 {
            guard let bytes = budget.grant(wanted: window, needed: 65464) else {
                Issue.record("a transfer found no block left")
                return
            }
            grants.append(bytes)
        }
        #expect(budget.granted <= 256 << 20)
        #expect(grants.allSatisfy { $0 >= 65464 && $0 <= window })
        #expect(grants.prefix(40).allSatisfy { $0 == window }, "the first transfers get whole windows")
        for bytes in grants { budget.giveBack(bytes) }
        #expect(budget.granted == 0 && budget.holders == 0)
        #expect(budget.grant(wanted: window, needed: 65464) == window)
    }

    @Test func pinnedSharedCopiesAreNeverDroppedAndTheTotalHolds() throws {
        let copies = SharedFileCopies(limits: .init(maximumFileSize: 60_000, maximumTotal: 100_000))
        let a = try HotFileCacheTests.file(randomBytes(60_000, seed: 1))
        let b = try HotFileCacheTests.file(randomBytes(60_000, seed: 2))
        defer { for path in [a, b] { try? FileManager.default.removeItem(atPath: path) } }
        let first = try #require(copies.acquire(a))
        let again = try #require(copies.acquire(a))
        #expect(first === again, "one copy for every transfer of the file")
        // b does not fit beside the pinned a: read from disk instead.
        #expect(copies.acquire(b) == nil)
        copies.release(first)
        #expect(copies.acquire(b) == nil, "still pinned once")
        copies.release(again)
        let other = try #require(copies.acquire(b))
        #expect(Array(other.data.readableBytesView) == randomBytes(60_000, seed: 2))
        #expect(copies.totalBytes == 60_000)
        // b replaced while pinned: the old copy counts until its transfer ends.
        let replacement = try HotFileCacheTests.file(randomBytes(30_000, seed: 3))
        _ = rename(replacement, b)
        let newer = try #require(copies.acquire(b))
        #expect(Array(newer.data.readableBytesView) == randomBytes(30_000, seed: 3))
        #expect(copies.totalBytes == 90_000)
        copies.release(other)
        #expect(copies.totalBytes == 30_000)
        copies.release(newer)
        #expect(copies.totalBytes == 30_000, "an unpinned copy stays for the next transfer")
    }

    @Test func aLimitIsLoggedOnceThenAtMostOncePerInterval() {
        var schedule = LimitNoticeSchedule(interval: .seconds(60))
        let t0 = ContinuousClock.now
        #expect(schedule.hit(now: t0) == 1)
        #expect(schedule.hit(now: t0 + .seconds(1)) == nil)
        #expect(schedule.hit(now: t0 + .seconds(59)) == nil)
        #expect(schedule.hit(now: t0 + .seconds(60)) == 3)
        #expect(schedule.hit(now: t0 + .seconds(61)) == nil)
        #expect(schedule.hit(now: t0 + .seconds(200)) == 2)
    }
}

extension TFTPResourceAccountingTests {
    /// A new transfer goes to the engine running the fewest, the first of equals.
    @Test func aNewTransferGoesToTheLeastLoadedEngine() {
        #expect(TFTPEngines.leastLoaded([0]) == 0)
        #expect(TFTPEngines.leastLoaded([2, 1, 1]) == 1)
        #expect(TFTPEngines.leastLoaded([3, 3, 0]) == 2)
        var loads = [0, 0, 0]
        for _ in 0..<7 { loads[TFTPEngines.leastLoaded(loads)] += 1 }
        #expect(loads == [3, 2, 2])
    }
}
