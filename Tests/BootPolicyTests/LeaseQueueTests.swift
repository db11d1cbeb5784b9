import BootPolicy
import Testing

@Suite("Lease queue")
struct LeaseQueueTests {
    /// Jobs named by kind and arrival: "D1" a DISCOVER, "R2" a REQUEST.
    private func enqueue(_ names: [String], into queue: inout LeaseQueue<String>) -> [LeaseQueue<String>.Admission] {
        names.map { queue.enqueue($0, startsExchange: $0.hasPrefix("D")) }
    }

    private func drain(_ queue: inout LeaseQueue<String>) -> [String] {
        var served: [String] = []
        while let job = queue.dequeue() { served.append(job) }
        return served
    }

    @Test("Messages that finish an exchange go before waiting DISCOVERs; each kind in arrival order")
    func finishingFirst() {
        var queue = LeaseQueue<String>(limit: 10)
        #expect(enqueue(["D1", "D2", "R3", "D4", "R5"], into: &queue) == Array(repeating: .queued, count: 5))
        #expect(queue.count == 5)
        #expect(drain(&queue) == ["R3", "R5", "D1", "D2", "D4"])
        #expect(queue.count == 0)
        #expect(queue.dequeue() == nil)
    }

    @Test("A full queue drops a DISCOVER, and makes room for a REQUEST by dropping the oldest DISCOVER")
    func fullQueue() {
        var queue = LeaseQueue<String>(limit: 3)
        _ = enqueue(["D1", "D2", "D3"], into: &queue)
        #expect(queue.enqueue("D4", startsExchange: true) == .dropped)
        #expect(queue.enqueue("R5", startsExchange: false) == .queuedInPlaceOfADiscover)
        #expect(queue.count == 3)
        #expect(drain(&queue) == ["R5", "D2", "D3"])
    }

    @Test("A queue full of messages that finish exchanges drops the next one")
    func fullOfRequests() {
        var queue = LeaseQueue<String>(limit: 2)
        _ = enqueue(["R1", "R2"], into: &queue)
        #expect(queue.enqueue("R3", startsExchange: false) == .dropped)
        #expect(queue.enqueue("D4", startsExchange: true) == .dropped)
        #expect(drain(&queue) == ["R1", "R2"])
    }

    @Test("Long runs keep arrival order across the storage's compaction")
    func longRun() {
        var queue = LeaseQueue<Int>(limit: 1000)
        var served: [Int] = []
        var next = 0
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) {
                #expect(queue.enqueue(next, startsExchange: true) == .queued)
                next += 1
            }
            for _ in 0..<(round % 5) {
                if let job = queue.dequeue() { served.append(job) }
            }
        }
        while let job = queue.dequeue() { served.append(job) }
        #expect(served == Array(0..<next))
    }
}
