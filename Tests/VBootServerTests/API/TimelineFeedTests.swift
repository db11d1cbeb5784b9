import BootPolicy
import DHCPv4
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
import VBootStore

@testable import VBootServer

/// The live timeline's feed against a real (in-memory SQLite) store: what each stream gets, and
/// that a slow, stalled or vanished reader holds a bounded queue and nothing else.
@Suite("Timeline feed")
struct TimelineFeedTests {
    static let macA = HardwareAddress("52:54:00:fe:00:0a")!
    static let macB = HardwareAddress("52:54:00:fe:00:0b")!

    static func store() async throws -> SQLiteInventoryStore {
        let store = try await SQLiteInventoryStore.open(path: ":memory:", logger: Logger(label: "test"))
        try await store.migrate()
        return store
    }

    static func record(_ store: some InventoryStore, _ count: Int, from start: Int = 0) async throws {
        try await store.record(
            (start..<(start + count)).map {
                BootEvent(
                    mac: $0.isMultiple(of: 2) ? macA : macB, at: Int64(1000 + $0), kind: .tftp, outcome: .ok,
                    summary: "event \($0)")
            })
    }

    /// The events in a run of frames, by summary.
    static func summaries(_ frames: [ByteBuffer]) -> [String] {
        frames.compactMap { frame -> String? in
            let text = String(buffer: frame)
            guard let data = text.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }) else { return nil }
            let json = try? JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any]
            return json?["summary"] as? String
        }
    }

    static func drain(_ subscriber: FeedSubscriber) async -> [ByteBuffer] {
        var frames: [ByteBuffer] = []
        while subscriber.queuedBytes > 0, let frame = await subscriber.next() { frames.append(frame) }
        return frames
    }

    @Test func aStreamStartsAfterTheNewestOrItsLastEventIDAndFiltersByMAC() async throws {
        let store = try await Self.store()
        try await Self.record(store, 4)
        let feed = TimelineFeed(store: store, counters: ServerCounters(), logger: Logger(label: "test"))
        let fresh = try feed.subscribe(mac: nil, client: "a", after: nil)
        let resumed = try feed.subscribe(mac: nil, client: "a", after: 2)
        let onlyB = try feed.subscribe(mac: Self.macB, client: "b", after: 0)
        await feed.poll()
        #expect(Self.summaries(await Self.drain(fresh)).isEmpty)
        #expect(Self.summaries(await Self.drain(resumed)) == ["event 2", "event 3"])
        #expect(Self.summaries(await Self.drain(onlyB)) == ["event 1", "event 3"])
        try await Self.record(store, 3, from: 4)
        await feed.poll()
        #expect(Self.summaries(await Self.drain(fresh)) == ["event 4", "event 5", "event 6"])
        #expect(Self.summaries(await Self.drain(onlyB)) == ["event 5"])
        let frame = String(buffer: TimelineFeed.frame(try await store.timeline(after: 0, limit: 1)[0]))
        #expect(frame.hasPrefix("event: timeline\nid: 1\ndata: {\"address\":null,"))
        #expect(frame.hasSuffix("}\n\n"))
        try await store.close()
    }

    /// A browser that reads slowly holds at most its queue; what did not fit is read from the
    /// store once there is room, so it still gets every event, in order.
    @Test func aSlowReaderHoldsABoundedQueueAndMissesNothing() async throws {
        let store = try await Self.store()
        try await Self.record(store, 2000)
        var limits = EventStreamLimits()
        limits.queueBytes = 8 * 1024
        limits.batch = 100
        let counters = ServerCounters()
        let feed = TimelineFeed(store: store, counters: counters, logger: Logger(label: "test"), limits: limits)
        let slow = try feed.subscribe(mac: nil, client: "a", after: 0)
        var got: [String] = []
        var largest = 0
        for _ in 0..<400 where got.count < 2000 {
            while await feed.poll() {}
            largest = max(largest, counters.gauge(.eventStreamsQueuedBytes))
            // It reads a few frames between two reads of the store.
            for _ in 0..<7 where slow.queuedBytes > 0 { got += Self.summaries([await slow.next()!]) }
        }
        #expect(got.count == 2000)
        #expect(got.enumerated().first { $0.element != "event \($0.offset)" } == nil)
        // One frame is ~230 bytes: the queue never holds more than its limit plus one.
        #expect(largest > 4 * 1024 && largest <= limits.queueBytes + 512, "largest \(largest)")
        try await store.close()
    }

    /// A browser that stops reading (or a response that never started) is ended once its frames
    /// have waited `stalled`: its queue is dropped, its connection closed, its place given back.
    @Test func aStalledReaderIsEndedAndItsMemoryGivenBack() async throws {
        let store = try await Self.store()
        try await Self.record(store, 500)
        var limits = EventStreamLimits()
        limits.queueBytes = 16 * 1024
        limits.stalled = .seconds(30)
        let counters = ServerCounters()
        let feed = TimelineFeed(store: store, counters: counters, logger: Logger(label: "test"), limits: limits)
        let closed = NIOLockedValueBoxCounter()
        let stalled = try feed.subscribe(mac: nil, client: "a", after: 0, onStall: { closed.add() })
        let reading = try feed.subscribe(mac: nil, client: "b", after: 0)
        let start = NIODeadline.now()
        await feed.poll(now: start)
        _ = await Self.drain(reading)
        #expect(stalled.queuedBytes > 8 * 1024)
        await feed.poll(now: start + .seconds(29))
        #expect(!stalled.isFinished && closed.value == 0)
        _ = await Self.drain(reading)
        await feed.poll(now: start + .seconds(31))
        #expect(stalled.isFinished && closed.value == 1)
        #expect(!reading.isFinished)
        #expect(counters[.eventStreamsStalled] == 1)
        #expect(await stalled.next() == nil)
        await feed.poll(now: start + .seconds(32))
        #expect(feed.count == 1 && counters.gauge(.eventStreamsOpen) == 1)
        #expect(counters.gauge(.eventStreamsQueuedBytes) == reading.queuedBytes)
        try await store.close()
    }

    /// A response task that goes away (the browser closed the tab) ends its stream at once.
    @Test func aVanishedReaderEndsItsStream() async throws {
        let store = try await Self.store()
        let feed = TimelineFeed(store: store, counters: ServerCounters(), logger: Logger(label: "test"))
        let subscriber = try feed.subscribe(mac: nil, client: "a", after: nil)
        let reader = Task { await subscriber.next() }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(subscriber.isFinished)
        await feed.poll()
        #expect(feed.count == 0)
        try await store.close()
    }

    /// A stream catching up from an old id does not hold back one that is caught up: each
    /// distinct cursor gets its own read, the newest first.
    @Test func aStreamCatchingUpDoesNotHoldBackTheOthers() async throws {
        let store = try await Self.store()
        try await Self.record(store, 2000)
        var limits = EventStreamLimits()
        limits.queueBytes = 8 * 1024
        let feed = TimelineFeed(store: store, counters: ServerCounters(), logger: Logger(label: "test"), limits: limits)
        let behind = try feed.subscribe(mac: nil, client: "a", after: 0)
        let current = try feed.subscribe(mac: nil, client: "b", after: nil)
        await feed.poll()
        #expect(Self.summaries(await Self.drain(current)).isEmpty)
        for round in 0..<3 {
            try await Self.record(store, 1, from: 2000 + round)
            await feed.poll()
            // The one behind reads a frame now and then; its queue is never empty.
            _ = await behind.next()
            #expect(Self.summaries(await Self.drain(current)) == ["event \(2000 + round)"])
        }
        #expect(behind.cursor.map { $0 > 0 && $0 < 2000 } == true)
        try await store.close()
    }

    @Test func readsPerRoundServeTheNewestCursorFirstAndTheRestInTurn() {
        #expect(FeedReadPlan.cursors([], round: 0, budget: 8).isEmpty)
        #expect(FeedReadPlan.cursors([10, 10, 10], round: 5, budget: 8) == [10])
        #expect(FeedReadPlan.cursors([10, 5, 3, 1, 10], round: 0, budget: 3) == [10, 5, 3])
        #expect(FeedReadPlan.cursors([10, 5, 3, 1], round: 1, budget: 3) == [10, 3, 1])
        #expect(FeedReadPlan.cursors([10, 5, 3, 1], round: 2, budget: 3) == [10, 1, 5])
        #expect(FeedReadPlan.cursors([10, 5], round: 7, budget: 1) == [10])
    }

    /// With other servers writing the same store, an event is sent only once it is old enough
    /// that every lower id has been committed.
    @Test func onASharedStoreEventsWaitTheHoldBack() async throws {
        let store = try await Self.store()
        let now = WallClock.microsecondsNow()
        try await store.record([BootEvent(mac: Self.macA, at: now, kind: .dhcp, outcome: .ok, summary: "young")])
        let feed = TimelineFeed(
            store: store, counters: ServerCounters(), logger: Logger(label: "test"), holdBack: 2_000_000)
        let subscriber = try feed.subscribe(mac: nil, client: "a", after: 0)
        await feed.poll(wallNow: now + 1_000_000)
        #expect(subscriber.queuedBytes == 0 && subscriber.cursor == 0)
        await feed.poll(wallNow: now + 2_500_000)
        #expect(Self.summaries(await Self.drain(subscriber)) == ["young"])
        try await store.close()
    }

    @Test func streamsAreCappedInAllAndPerAddress() async throws {
        let store = try await Self.store()
        var limits = EventStreamLimits()
        limits.subscribers = 3
        limits.subscribersPerClient = 2
        let counters = ServerCounters()
        let feed = TimelineFeed(store: store, counters: counters, logger: Logger(label: "test"), limits: limits)
        let first = try feed.subscribe(mac: nil, client: "a", after: nil)
        _ = try feed.subscribe(mac: nil, client: "a", after: nil)
        #expect(throws: TimelineFeed.Refusal.tooManyFromClient(2)) {
            try feed.subscribe(mac: nil, client: "a", after: nil)
        }
        _ = try feed.subscribe(mac: nil, client: "b", after: nil)
        #expect(throws: TimelineFeed.Refusal.tooMany(3)) { try feed.subscribe(mac: nil, client: "c", after: nil) }
        feed.unsubscribe(first)
        _ = try feed.subscribe(mac: nil, client: "c", after: nil)
        #expect(counters[.eventStreamsRefused] == 2 && counters[.eventStreamsOpened] == 4)
        try await store.close()
    }

    /// Streams from a read network (no token) have places of their own: they cannot take every one.
    @Test func streamsWithoutTheTokenLeavePlacesForThoseWithIt() async throws {
        let store = try await Self.store()
        var limits = EventStreamLimits()
        limits.subscribers = 3
        limits.subscribersWithoutToken = 1
        let feed = TimelineFeed(store: store, counters: ServerCounters(), logger: Logger(label: "test"), limits: limits)
        _ = try feed.subscribe(mac: nil, client: "a", after: nil, withToken: false)
        #expect(throws: TimelineFeed.Refusal.tooManyWithoutToken(1)) {
            try feed.subscribe(mac: nil, client: "b", after: nil, withToken: false)
        }
        // Not `try`: a refusal here is this test's failure, and the store must still be closed.
        #expect((try? feed.subscribe(mac: nil, client: "b", after: nil, withToken: true)) != nil)
        #expect((try? feed.subscribe(mac: nil, client: "c", after: nil, withToken: true)) != nil)
        #expect(feed.count == 3)
        try await store.close()
    }

    @Test func framesSplitDataLinesAndCarryTheirID() {
        #expect(
            String(buffer: ServerSentEvent.frame(event: "x", id: 7, data: "a\nb\r\nc"))
                == "event: x\nid: 7\ndata: a\ndata: b\ndata: c\n\n")
        #expect(String(buffer: ServerSentEvent.frame(event: "x", id: nil, data: "")) == "event: x\ndata: \n\n")
    }
}

/// Counts calls from any thread.
final class NIOLockedValueBoxCounter: Sendable {
    private let box = NIOLockedValueBox(0)
    func add() { box.withLockedValue { $0 += 1 } }
    var value: Int { box.withLockedValue { $0 } }
}
