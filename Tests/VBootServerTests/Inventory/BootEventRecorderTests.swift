import BootPolicy
import DHCPv4
import Logging
import Testing
import VBootStore

@testable import VBootServer

@Suite("Timeline recorder")
struct BootEventRecorderTests {
    /// A packet flood fills one flush's buffer; the rest is counted as dropped, and what was
    /// buffered reaches the store.
    @Test func aFloodIsCountedNotStored() async throws {
        let store = try await SQLiteInventoryStore.open(path: ":memory:", logger: Logger(label: "test"))
        try await store.migrate()
        let counters = ServerCounters()
        let configuration = ServerConfiguration()
        let recorder = BootEventRecorder(
            store: store, addresses: ClientAddresses(), counters: counters, logger: Logger(label: "test"),
            serverName: "test", live: LiveSettings(configuration), isKnown: { _ in true })
        let mac = HardwareAddress("52:54:00:00:00:01")!
        let flood = BootEventRecorder.bufferLimit + 500
        for n in 0..<flood { recorder.record(.dhcp, .ok, mac: mac, summary: "packet \(n)") }
        #expect(counters[.timelineEventsDropped] == 500)
        await recorder.flush()
        let stored = try await store.timeline(mac: mac, limit: flood, before: nil)
        #expect(stored.count == BootEventRecorder.bufferLimit)
        #expect(stored.last?.summary == "packet 0")
        // After a flush there is room again.
        recorder.record(.script, .ok, mac: mac, summary: "after")
        await recorder.flush()
        #expect(try await store.timeline(mac: mac, limit: 1, before: nil).first?.summary == "after")
        try await store.close()
    }

    /// A loader sent and never heard from becomes a failed `script` event with the reason, once;
    /// one whose script was asked for does not.
    @Test func aSilentLoaderIsOnTheTimeline() async throws {
        let store = try await SQLiteInventoryStore.open(path: ":memory:", logger: Logger(label: "test"))
        try await store.migrate()
        let counters = ServerCounters()
        let recorder = BootEventRecorder(
            store: store, addresses: ClientAddresses(), counters: counters, logger: Logger(label: "test"),
            serverName: "test", live: LiveSettings(ServerConfiguration()), loaderTimeout: 1_000_000,
            isKnown: { _ in true })
        let refused = HardwareAddress("52:54:00:00:00:01")!
        let started = HardwareAddress("52:54:00:00:00:02")!
        for mac in [refused, started] {
            recorder.record(.tftp, .ok, mac: mac, summary: "sent", details: ["file": "ipxe.efi"])
        }
        recorder.record(.script, .ok, mac: started, summary: "profile x")
        let later = WallClock.microsecondsNow() + 2_000_000
        recorder.checkLoaders(now: later)
        recorder.checkLoaders(now: later + 10_000_000)
        await recorder.flush()
        let events = try await store.timeline(mac: refused, limit: 10, before: nil)
        #expect(events.filter { $0.kind == .script && $0.outcome == .failed }.count == 1)
        #expect(events.first?.summary.contains("Secure Boot refuses an unsigned iPXE") == true)
        #expect(try await store.timeline(mac: started, limit: 10, before: nil).allSatisfy { $0.outcome == .ok })
        #expect(counters[.loadersSilent] == 1)
        try await store.close()
    }

    /// Random MACs (machines not in the inventory) fill the timeline only up to the per-source
    /// and global budgets; a machine in the inventory is never limited.
    @Test func randomMACsAreRateLimitedKnownMachinesAreNot() async throws {
        let store = try await SQLiteInventoryStore.open(path: ":memory:", logger: Logger(label: "test"))
        try await store.migrate()
        let counters = ServerCounters()
        var limits = UnauthenticatedTrafficLimits()
        limits.unknownEventsPerSecondPerSource = 10
        limits.unknownEventsPerSecond = 50
        let known = HardwareAddress("52:54:00:00:00:01")!
        let recorder = BootEventRecorder(
            store: store, addresses: ClientAddresses(), counters: counters, logger: Logger(label: "test"),
            serverName: "test", live: LiveSettings(ServerConfiguration()), limits: limits,
            isKnown: { $0 == known })
        func random(_ n: Int) -> HardwareAddress {
            HardwareAddress([0x02, 0x66, UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), 0x01])
        }
        for n in 0..<1000 { recorder.record(.dhcp, .ok, mac: random(n), source: "10.0.0.9", summary: "flood") }
        await recorder.flush()
        let fromOne = try await store.timeline(mac: nil, limit: 5000, before: nil).count
        #expect(fromOne >= 10 && fromOne <= 12)
        // Many sources (spoofed relays): the global budget (refilled by 50 a second meanwhile).
        let started = ContinuousClock.now
        for n in 0..<1000 { recorder.record(.dhcp, .ok, mac: random(n), source: "relay \(n)", summary: "flood") }
        await recorder.flush()
        let total = try await store.timeline(mac: nil, limit: 5000, before: nil).count
        let elapsed = ContinuousClock.now - started
        #expect(Double(total) <= 52 + 50 * Double(elapsed.components.seconds + 1))
        #expect(total < 200)
        #expect(counters[.timelineUnknownEventsLimited] == 2000 - total)
        // The known machine, during the flood: every event.
        for n in 0..<100 { recorder.record(.dhcp, .ok, mac: known, source: "10.0.0.9", summary: "known \(n)") }
        await recorder.flush()
        #expect(try await store.timeline(mac: known, limit: 500, before: nil).count == 100)
        try await store.close()
    }
}
