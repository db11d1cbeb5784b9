/// The `--dhcp full` messages waiting for the lease store, those that finish an exchange first.
///
/// Under a storm the store's one consumer cannot keep up. Served in arrival order, the queue fills
/// with DISCOVERs: each OFFER starts an exchange whose REQUEST then waits behind newer DISCOVERs,
/// and fewer and fewer clients get to an ACK (perfdhcp at 4,000 exchanges/s: 306-354 ACKs/s from
/// a consumer good for 1,100). So a REQUEST (and RELEASE, DECLINE, INFORM: each finishes what it
/// started) goes before every waiting DISCOVER, and takes the place of the oldest one when the
/// queue is full; a dropped DISCOVER is retransmitted by its client, whose OFFER would have come
/// late anyway.
public struct LeaseQueue<Job> {
    /// What became of a message offered to the queue.
    public enum Admission: Equatable, Sendable {
        case queued
        /// Queued in place of the oldest waiting DISCOVER, which is dropped.
        case queuedInPlaceOfADiscover
        /// The queue is full: the message is dropped (the client retransmits).
        case dropped
    }

    /// Messages waiting, of both kinds together.
    public let limit: Int
    private var finishing = FIFO<Job>()
    private var starting = FIFO<Job>()

    public init(limit: Int) { self.limit = max(1, limit) }

    public var count: Int { finishing.count + starting.count }

    /// `startsExchange`: a DISCOVER.
    public mutating func enqueue(_ job: Job, startsExchange: Bool) -> Admission {
        if count < limit {
            if startsExchange { starting.append(job) } else { finishing.append(job) }
            return .queued
        }
        guard !startsExchange, starting.popFirst() != nil else { return .dropped }
        finishing.append(job)
        return .queuedInPlaceOfADiscover
    }

    /// The next message to serve: the oldest that finishes an exchange, else the oldest DISCOVER.
    public mutating func dequeue() -> Job? { finishing.popFirst() ?? starting.popFirst() }
}

/// First in, first out, in one array: the consumed head is dropped once it is half the storage.
private struct FIFO<Element> {
    private var storage: [Element] = []
    private var head = 0

    var count: Int { storage.count - head }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}

extension LeaseQueue: Sendable where Job: Sendable {}
extension FIFO: Sendable where Element: Sendable {}
