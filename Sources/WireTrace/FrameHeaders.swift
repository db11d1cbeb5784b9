import DHCPv4

/// The headers of one captured frame down to UDP or TCP, read in place: a capture of a boot storm
/// is millions of TFTP and HTTP data packets, and only their headers and first bytes matter.
///
/// ```text
///  Ethernet  | dst 6 | src 6 | [0x8100 tag 4]… | type 2 |      (SLL: 16 bytes, SLL2: 20, raw: none)
///  IPv4      | ver/ihl | tos | length 2 | id 2 | flags/fragment 2 | ttl | proto | sum 2 | src 4 | dst 4 | options
///  UDP       | src port 2 | dst port 2 | length 2 | sum 2 |
///  TCP       | src port 2 | dst port 2 | seq 4 | ack 4 | offset/flags 2 | window 2 | sum 2 | urgent 2 | options
/// ```
public struct FrameHeaders: Hashable, Sendable {
    /// The link-layer sender and receiver, where the capture has them (SLL has the sender only).
    public var linkSource: LinkAddress?
    public var linkDestination: LinkAddress?
    public var source: IPv4Address
    public var destination: IPv4Address
    public var transport: Transport
    /// Where the transport payload starts in the frame, and how much of it was captured.
    public var payloadOffset: Int
    public var payloadLength: Int
    /// The payload's length on the wire (larger than `payloadLength` when the snap length cut it).
    public var wirePayloadLength: Int

    public enum Transport: Hashable, Sendable {
        case udp(sourcePort: UInt16, destinationPort: UInt16)
        case tcp(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, flags: TCPFlags)
    }

    public var sourcePort: UInt16 {
        switch transport {
        case .udp(let port, _), .tcp(let port, _, _, _): port
        }
    }

    public var destinationPort: UInt16 {
        switch transport {
        case .udp(_, let port), .tcp(_, let port, _, _): port
        }
    }
}

/// TCP header flags (RFC 9293 §3.1).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = Self(rawValue: 0x01)
    public static let syn = Self(rawValue: 0x02)
    public static let rst = Self(rawValue: 0x04)
}

/// A 48-bit link-layer address as one integer: no allocation per packet.
public struct LinkAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    public init?(_ hardware: HardwareAddress) {
        guard hardware.bytes.count == 6 else { return nil }
        self.init(rawValue: hardware.bytes.reduce(0) { $0 << 8 | UInt64($1) })
    }

    public var hardwareAddress: HardwareAddress {
        HardwareAddress((0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * $0)) })
    }

    public var description: String { hardwareAddress.description }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Why a frame was not decoded: counted per reason, never fatal.
public enum FrameSkip: Error, Hashable, Sendable, CustomStringConvertible {
    case unsupportedLinkType(LinkType)
    /// ARP, IPv6, LLDP…: not part of an IPv4 boot.
    case notIPv4
    /// Neither UDP nor TCP.
    case otherProtocol
    /// A later IP fragment: its transport header is in the first one.
    case fragment
    /// The capture (or the packet) ends inside a header.
    case truncated(layer: String)
    /// A header that contradicts itself (an IPv4 header length under 20, a UDP length under 8).
    case malformed(layer: String)

    public var description: String {
        switch self {
        case .unsupportedLinkType(let type): "unsupported \(type)"
        case .notIPv4: "not IPv4"
        case .otherProtocol: "neither UDP nor TCP"
        case .fragment: "IP fragment"
        case .truncated(let layer): "truncated \(layer) header"
        case .malformed(let layer): "malformed \(layer) header"
        }
    }
}

extension FrameHeaders {
    static let etherTypeIPv4: UInt16 = 0x0800
    static let etherTypeVLAN: UInt16 = 0x8100
    static let etherTypeQinQ: UInt16 = 0x88A8
    static let protocolTCP: UInt8 = 6
    static let protocolUDP: UInt8 = 17

    public static func parse(_ frame: UnsafeRawBufferPointer, linkType: LinkType) throws(FrameSkip) -> FrameHeaders {
        var source: LinkAddress?
        var destination: LinkAddress?
        let ipOffset: Int
        switch linkType {
        case .ethernet:
            guard frame.count >= 14 else { throw .truncated(layer: "Ethernet") }
            destination = LinkAddress(rawValue: frame.uint48(at: 0))
            source = LinkAddress(rawValue: frame.uint48(at: 6))
            var offset = 12
            var type = frame.uint16(at: offset)
            // Up to two VLAN tags (802.1Q, 802.1ad).
            for _ in 0..<2 where type == etherTypeVLAN || type == etherTypeQinQ {
                offset += 4
                guard frame.count >= offset + 2 else { throw .truncated(layer: "VLAN") }
                type = frame.uint16(at: offset)
            }
            guard type == etherTypeIPv4 else { throw .notIPv4 }
            ipOffset = offset + 2
        case .linuxCooked:
            guard frame.count >= 16 else { throw .truncated(layer: "SLL") }
            if frame.uint16(at: 4) == 6 { source = LinkAddress(rawValue: frame.uint48(at: 6)) }
            guard frame.uint16(at: 14) == etherTypeIPv4 else { throw .notIPv4 }
            ipOffset = 16
        case .linuxCooked2:
            guard frame.count >= 20 else { throw .truncated(layer: "SLL2") }
            if frame[11] == 6 { source = LinkAddress(rawValue: frame.uint48(at: 12)) }
            guard frame.uint16(at: 0) == etherTypeIPv4 else { throw .notIPv4 }
            ipOffset = 20
        case .raw, .rawAlias, .ipv4:
            ipOffset = 0
        default:
            throw .unsupportedLinkType(linkType)
        }
        return try parseIPv4(frame, at: ipOffset, linkSource: source, linkDestination: destination)
    }

    private static func parseIPv4(
        _ frame: UnsafeRawBufferPointer, at start: Int, linkSource: LinkAddress?, linkDestination: LinkAddress?
    ) throws(FrameSkip) -> FrameHeaders {
        guard frame.count >= start + 20 else { throw .truncated(layer: "IPv4") }
        let versionAndLength = frame[start]
        guard versionAndLength >> 4 == 4 else { throw .notIPv4 }
        let headerLength = Int(versionAndLength & 0x0F) * 4
        let totalLength = Int(frame.uint16(at: start + 2))
        guard headerLength >= 20, totalLength >= headerLength else { throw .malformed(layer: "IPv4") }
        guard frame.count >= start + headerLength else { throw .truncated(layer: "IPv4") }
        // A fragment offset other than 0: the transport header travelled in the first fragment.
        guard frame.uint16(at: start + 6) & 0x1FFF == 0 else { throw .fragment }
        let proto = frame[start + 9]
        let source = IPv4Address(rawValue: frame.uint32(at: start + 12))
        let destination = IPv4Address(rawValue: frame.uint32(at: start + 16))
        let transportStart = start + headerLength
        // Ethernet pads short frames: the IP length, not the frame, says where the packet ends.
        let packetEnd = start + totalLength
        let capturedEnd = min(frame.count, packetEnd)
        switch proto {
        case protocolUDP:
            guard capturedEnd >= transportStart + 8 else { throw .truncated(layer: "UDP") }
            let udpLength = Int(frame.uint16(at: transportStart + 4))
            guard udpLength >= 8 else { throw .malformed(layer: "UDP") }
            // A first fragment carries less than the UDP length says; the rest is on the wire.
            let wire = udpLength - 8
            let payloadStart = transportStart + 8
            return FrameHeaders(
                linkSource: linkSource, linkDestination: linkDestination, source: source, destination: destination,
                transport: .udp(
                    sourcePort: frame.uint16(at: transportStart), destinationPort: frame.uint16(at: transportStart + 2)),
                payloadOffset: payloadStart, payloadLength: max(0, min(capturedEnd - payloadStart, wire)),
                wirePayloadLength: wire)
        case protocolTCP:
            guard capturedEnd >= transportStart + 20 else { throw .truncated(layer: "TCP") }
            let offset = Int(frame[transportStart + 12] >> 4) * 4
            guard offset >= 20, transportStart + offset <= packetEnd else { throw .malformed(layer: "TCP") }
            guard capturedEnd >= transportStart + offset else { throw .truncated(layer: "TCP") }
            let payloadStart = transportStart + offset
            return FrameHeaders(
                linkSource: linkSource, linkDestination: linkDestination, source: source, destination: destination,
                transport: .tcp(
                    sourcePort: frame.uint16(at: transportStart), destinationPort: frame.uint16(at: transportStart + 2),
                    sequence: frame.uint32(at: transportStart + 4),
                    flags: TCPFlags(rawValue: frame[transportStart + 13] & 0x07)),
                payloadOffset: payloadStart, payloadLength: capturedEnd - payloadStart,
                wirePayloadLength: packetEnd - payloadStart)
        default:
            throw .otherProtocol
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Big-endian reads; callers have checked the bounds.
    func uint16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    func uint32(at offset: Int) -> UInt32 { UInt32(uint16(at: offset)) << 16 | UInt32(uint16(at: offset + 2)) }
    func uint48(at offset: Int) -> UInt64 { UInt64(uint16(at: offset)) << 32 | UInt64(uint32(at: offset + 2)) }
}
