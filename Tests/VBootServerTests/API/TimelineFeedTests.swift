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
