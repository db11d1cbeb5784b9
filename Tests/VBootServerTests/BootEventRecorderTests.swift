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
            serverName: "test", live: LiveSettings(configuration))
        let mac = HardwareAddress("52:54:00:00:00:01")!
        let flood = BootEventRecorder.bufferLimit + 500
        for n in 0..<flood { recorder.record(.dhcp, .ok, mac: mac, summary: "packet \(n)") }
        #expect(counters["timeline_events_dropped"] == 500)
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
}
