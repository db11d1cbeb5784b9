import DHCPv4
import NIOCore
import TFTP
import WireTrace

/// Ethernet + IPv4 + UDP/TCP frames for the trace's tests, built field by field (checksums 0:
/// the decoder does not verify them, as tcpdump does not by default).
enum Frames {
    static func ethernet(
        from source: String, to destination: String, type: UInt16 = 0x0800, vlan: UInt16? = nil, _ body: [UInt8]
    ) -> [UInt8] {
        var frame = mac(destination) + mac(source)
        if let vlan { frame += be16(0x8100) + be16(vlan) }
        return frame + be16(type) + body
    }

    static func ipv4(
        from source: String, to destination: String, proto: UInt8, fragment: UInt16 = 0, _ body: [UInt8]
    ) -> [UInt8] {
        let total = 20 + body.count
        return [0x45, 0] + be16(UInt16(total)) + be16(0x1234) + be16(fragment) + [64, proto] + be16(0)
            + IPv4Address(source)!.octets + IPv4Address(destination)!.octets + body
    }

    static func udp(_ sourcePort: UInt16, _ destinationPort: UInt16, _ payload: [UInt8]) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be16(UInt16(8 + payload.count)) + be16(0) + payload
    }

    static func tcp(
        _ sourcePort: UInt16, _ destinationPort: UInt16, sequence: UInt32, flags: UInt8 = 0x18, _ payload: [UInt8]
    ) -> [UInt8] {
        be16(sourcePort) + be16(destinationPort) + be32(sequence) + be32(0) + [0x50, flags] + be16(65535) + be16(0)
            + be16(0) + payload
    }

    /// A whole UDP frame between two hosts.
    static func udpFrame(
        _ fromMAC: String, _ fromIP: String, _ fromPort: UInt16, _ toMAC: String, _ toIP: String, _ toPort: UInt16,
        _ payload: [UInt8]
    ) -> [UInt8] {
        ethernet(from: fromMAC, to: toMAC, ipv4(from: fromIP, to: toIP, proto: 17, udp(fromPort, toPort, payload)))
    }

    static func tcpFrame(
        _ fromMAC: String, _ fromIP: String, _ fromPort: UInt16, _ toMAC: String, _ toIP: String, _ toPort: UInt16,
        sequence: UInt32, flags: UInt8 = 0x18, _ payload: [UInt8]
    ) -> [UInt8] {
        ethernet(
            from: fromMAC, to: toMAC,
            ipv4(from: fromIP, to: toIP, proto: 6, tcp(fromPort, toPort, sequence: sequence, flags: flags, payload)))
    }

    static func tftp(_ packet: TFTPPacket) -> [UInt8] {
        Array(packet.encoded().readableBytesView)
    }

    static func data(block: UInt16, length: Int) -> [UInt8] {
        tftp(.data(block: block, data: ByteBuffer(bytes: [UInt8](repeating: 0xAB, count: length))))
    }

    static func mac(_ text: String) -> [UInt8] { HardwareAddress(text)!.bytes }
    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func be32(_ value: UInt32) -> [UInt8] { be16(UInt16(value >> 16)) + be16(UInt16(value & 0xFFFF)) }
}

/// A DHCP message as PXE firmware, iPXE or a server sends it.
enum Messages {
    static let pxe = Array("PXEClient:Arch:00007:UNDI:003016".utf8)

    static func client(
        _ type: DHCPMessageType, mac: String, ipxe: Bool = false, arch: UInt16 = 7, server: String? = nil,
        requested: String? = nil
    ) -> [UInt8] {
        var options = [
            DHCPOption(.messageType, [type.rawValue]), DHCPOption(.vendorClassIdentifier, pxe),
            DHCPOption(.clientSystemArchitecture, Frames.be16(arch)),
        ]
        if ipxe { options.append(DHCPOption(.userClass, Array("iPXE".utf8))) }
        if let server { options.append(DHCPOption(.serverIdentifier, IPv4Address(server)!.octets)) }
        if let requested { options.append(DHCPOption(.requestedIPAddress, IPv4Address(requested)!.octets)) }
        return encode(op: .bootRequest, mac: mac, options: options)
    }

    static func server(
        _ type: DHCPMessageType, mac: String, server: String, address: String? = nil, nextServer: String? = nil,
        bootFile: String? = nil
    ) -> [UInt8] {
        var message = DHCPMessage(op: .bootReply, xid: 0x1234, chaddr: HardwareAddress(mac)!)
        message.yiaddr = address.flatMap { IPv4Address($0) } ?? .any
        message.siaddr = nextServer.flatMap { IPv4Address($0) } ?? .any
        if let bootFile { message.bootFileName = bootFile }
        message.options = [
            DHCPOption(.messageType, [type.rawValue]), DHCPOption(.serverIdentifier, IPv4Address(server)!.octets),
        ]
        if address == nil { message.options.append(DHCPOption(.vendorClassIdentifier, Array("PXEClient".utf8))) }
        return Array(message.encoded(minimumLength: 300).readableBytesView)
    }

    private static func encode(op: BOOTPOpCode, mac: String, options: [DHCPOption]) -> [UInt8] {
        var message = DHCPMessage(op: op, xid: 0x1234, chaddr: HardwareAddress(mac)!)
        message.options = options
        return Array(message.encoded(minimumLength: 300).readableBytesView)
    }
}
