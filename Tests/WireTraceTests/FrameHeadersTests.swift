import Testing
import WireTrace

@Suite struct FrameHeadersTests {
    static let udp = Frames.ipv4(from: "10.0.0.50", to: "10.0.0.2", proto: 17, Frames.udp(1501, 69, [0, 1, 0x61, 0]))

    func parse(_ frame: [UInt8], _ type: LinkType = .ethernet) throws(FrameSkip) -> FrameHeaders {
        let result = frame.withUnsafeBytes { bytes in
            Result { () throws(FrameSkip) -> FrameHeaders in try FrameHeaders.parse(bytes, linkType: type) }
        }
        return try result.get()
    }

    @Test func ethernetIPv4UDP() throws {
        let headers = try parse(Frames.ethernet(from: "52:54:00:00:00:01", to: "02:00:00:00:00:02", Self.udp))
        #expect(headers.linkSource?.description == "52:54:00:00:00:01")
        #expect(headers.linkDestination?.description == "02:00:00:00:00:02")
        #expect(headers.source.description == "10.0.0.50")
        #expect(headers.transport == .udp(sourcePort: 1501, destinationPort: 69))
        #expect(headers.payloadOffset == 42)
        #expect(headers.payloadLength == 4)
        #expect(headers.wirePayloadLength == 4)
    }

    @Test func vlanTaggedPaddedAndCookedFramesFindTheSamePacket() throws {
        let tagged = try parse(Frames.ethernet(from: "52:54:00:00:00:01", to: "02:00:00:00:00:02", vlan: 7, Self.udp))
        #expect(tagged.payloadOffset == 46)
        // Ethernet pads a short frame: the IP length says where the packet ends.
        let padded = try parse(
            Frames.ethernet(from: "52:54:00:00:00:01", to: "02:00:00:00:00:02", Self.udp + [0, 0, 0]))
        #expect(padded.payloadLength == 4)
        let sll: [UInt8] = [0, 0, 0, 1, 0, 6, 0x52, 0x54, 0, 0, 0, 1, 0, 0, 0x08, 0x00]
        #expect(try parse(sll + Self.udp, .linuxCooked).linkSource?.description == "52:54:00:00:00:01")
        let sll2: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0x52, 0x54, 0, 0, 0, 1, 0, 0]
        #expect(try parse(sll2 + Self.udp, .linuxCooked2).linkSource?.description == "52:54:00:00:00:01")
        #expect(try parse(Self.udp, .raw).linkSource == nil)
    }

    @Test func tcpHeaderWithFlags() throws {
        let frame = Frames.tcpFrame(
            "52:54:00:00:00:01", "10.0.0.50", 50000, "02:00:00:00:00:02", "10.0.0.2", 8080, sequence: 77, flags: 0x11,
            Array("GET / HTTP/1.1\r\n".utf8))
        let headers = try parse(frame)
        #expect(headers.transport == .tcp(sourcePort: 50000, destinationPort: 8080, sequence: 77, flags: [.fin]))
        #expect(headers.payloadLength == 16)
    }

    @Test(arguments: [
        ([UInt8](repeating: 0, count: 10), FrameSkip.truncated(layer: "Ethernet")),
        (Frames.ethernet(from: "52:54:00:00:00:01", to: "02:00:00:00:00:02", type: 0x86DD, [0x60]), .notIPv4),
        (
            Frames.ethernet(from: "52:54:00:00:00:01", to: "02:00:00:00:00:02", Array(udp.prefix(19))),
            .truncated(layer: "IPv4")
        ),
        (
            Frames.ethernet(
                from: "52:54:00:00:00:01", to: "02:00:00:00:00:02",
                Frames.ipv4(from: "10.0.0.1", to: "10.0.0.2", proto: 1, [8, 0, 0, 0])), .otherProtocol
        ),
        (
            Frames.ethernet(
                from: "52:54:00:00:00:01", to: "02:00:00:00:00:02",
                Frames.ipv4(from: "10.0.0.1", to: "10.0.0.2", proto: 17, fragment: 0x00B9, [1, 2, 3])), .fragment
        ),
        (
            Frames.ethernet(
                from: "52:54:00:00:00:01", to: "02:00:00:00:00:02",
                Frames.ipv4(from: "10.0.0.1", to: "10.0.0.2", proto: 17, [0, 67, 0, 68, 0, 4, 0, 0])),
            .malformed(layer: "UDP")
        ),
        (
            Frames.ethernet(
                from: "52:54:00:00:00:01", to: "02:00:00:00:00:02",
                Frames.ipv4(from: "10.0.0.1", to: "10.0.0.2", proto: 6, [0, 80, 0, 81])),
            .truncated(layer: "TCP")
        ),
    ])
    func framesThatAreSkippedSayWhy(frame: [UInt8], reason: FrameSkip) {
        #expect(throws: reason) { try parse(frame) }
    }

    @Test func anUnsupportedLinkTypeIsNamed() {
        #expect(throws: FrameSkip.unsupportedLinkType(LinkType(rawValue: 105))) {
            try parse(Self.udp, LinkType(rawValue: 105))
        }
    }

    /// Random bytes under every link type and random cuts of real frames: skipped and counted,
    /// never a crash (the fuzz target FuzzWireTrace goes further).
    @Test func garbageIsCountedNeverFatal() {
        var generator = SplitMix(seed: 0x5EED)
        var trace = BootTrace()
        let types: [LinkType] = [.ethernet, .raw, .linuxCooked, .linuxCooked2, LinkType(rawValue: 999)]
        var segment = Segment()
        segment.firmwareDHCP()
        for index in 0..<20_000 {
            var frame = (0..<Int(generator.next() % 600)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if index % 2 == 0 {
                frame = Frames.udpFrame(
                    "52:54:00:00:00:01", "10.0.0.50", 68, "ff:ff:ff:ff:ff:ff", "255.255.255.255",
                    [67, 69, 4011, 8080][index % 4 / 2 * 2], frame)
                frame = Array(frame.prefix(Int(generator.next() % UInt64(frame.count + 1))))
            }
            frame.withUnsafeBytes { _ = trace.ingest($0, linkType: types[index % types.count], at: Double(index)) }
        }
        #expect(trace.frames == 20_000)
        #expect(trace.skipped.values.reduce(0, +) > 0)
        _ = TraceReport(trace, context: VerdictContext(end: 20_000)).text
    }
}

/// A small deterministic generator (SplitMix64) for reproducible garbage.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
