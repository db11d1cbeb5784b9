import BootPolicy
import DHCPv4
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Datagram channel set-up shared by the DHCP and TFTP listeners.
enum UDPSocket {
    static let vectorReadCount = 32
    /// Ethernet MTU with room to spare: DHCP and TFTP requests are far smaller.
    static let maximumDatagram = 2048
    /// A rack powering on sends hundreds of DISCOVERs within milliseconds; the default 208 KiB
    /// receive buffer held ~46 of 500 on loopback and the kernel dropped the rest, which then
    /// retried in step on EDK2's 4/8/16 s schedule. The kernel caps this at net.core.rmem_max.
    static let receiveBufferSize = 4 << 20

    /// Binds a UDP channel that can receive and send broadcasts and reports, per datagram, the
    /// address it was sent to and the interface it came in on (IP_PKTINFO).
    static func bind(
        group: any EventLoopGroup, host: String, port: Int, interface: String? = nil,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            .channelOption(.receivePacketInfo, value: true)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
            // recvmmsg: the receive buffer is split evenly between the messages of one read.
            .channelOption(.datagramVectorReadMessageCount, value: vectorReadCount)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vectorReadCount * maximumDatagram)
            )
            .channelInitializer(initializer)
            .bind(host: host, port: port)
            .get()
        if let interface {
            try await bindToDevice(channel, interface)
        }
        return channel
    }

    /// SO_BINDTODEVICE: receive from, and route broadcasts out of, this interface only.
    private static func bindToDevice(_ channel: any Channel, _ name: String) async throws {
        guard let provider = channel as? any SocketOptionProvider else { return }
        var bytes = [UInt8](name.utf8.prefix(15))
        bytes += [UInt8](repeating: 0, count: 16 - bytes.count)
        let device = InterfaceName(bytes: bytes)
        try await provider.unsafeSetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_BINDTODEVICE), value: device
        ).get()
    }

    /// IFNAMSIZ (16) octets, laid out as the kernel expects.
    private struct InterfaceName {
        var b:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8
            )
        init(bytes: [UInt8]) {
            b = (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        }
    }
}

extension SocketAddress {
    /// The IPv4 address, or nil for IPv6 and Unix sockets.
    var ipv4: DHCPv4.IPv4Address? {
        guard case .v4(let address) = self else { return nil }
        return DHCPv4.IPv4Address(rawValue: UInt32(bigEndian: address.address.sin_addr.s_addr))
    }

    /// `10.0.0.5:1234`, for log lines.
    var compact: String {
        guard let ip = ipv4 else { return description }
        return "\(ip):\(port ?? 0)"
    }

    static func ipv4(_ address: DHCPv4.IPv4Address, port: Int) -> SocketAddress {
        var raw = sockaddr_in()
        raw.sin_family = sa_family_t(AF_INET)
        raw.sin_port = in_port_t(UInt16(port).bigEndian)
        raw.sin_addr.s_addr = address.rawValue.bigEndian
        return SocketAddress(raw, host: address.description)
    }

    /// Where a DHCP reply goes, as a socket address.
    static func ipv4(_ destination: ReplyDestination) -> SocketAddress {
        switch destination {
        case .unicast(let address, let port): .ipv4(address, port: port)
        case .broadcast(let port): .ipv4(.broadcast, port: port)
        }
    }
}

/// Maps interface indexes (from IP_PKTINFO) to the interface's IPv4 address.
final class InterfaceAddresses: Sendable {
    private let table: NIOLockedValueBox<[Int: IPv4Address]>

    init() { table = NIOLockedValueBox(Self.read()) }

    func address(ofInterface index: Int) -> IPv4Address? {
        if let known = table.withLockedValue({ $0[index] }) { return known }
        // Interfaces come and go (a bridge created after start): read the table again once.
        let fresh = Self.read()
        table.withLockedValue { $0 = fresh }
        return fresh[index]
    }

    /// Names of the interfaces that have an IPv4 address, loopback included (tests, and clients
    /// on the same host).
    /// With `owning`, only the interfaces that carry that address.
    static func ipv4InterfaceNames(owning address: IPv4Address? = nil) -> [String] {
        var names: [String] = []
        for device in (try? System.enumerateDevices()) ?? [] {
            guard let ip = device.address?.ipv4, !names.contains(device.name) else { continue }
            if let address, !address.isAny, ip != address { continue }
            names.append(device.name)
        }
        return names
    }

    /// The netmask of the interface that carries `address`.
    static func netmask(of address: IPv4Address) -> IPv4Address? {
        for device in (try? System.enumerateDevices()) ?? [] where device.address?.ipv4 == address {
            if let mask = device.netmask?.ipv4 { return mask }
        }
        return nil
    }

    private static func read() -> [Int: IPv4Address] {
        var result: [Int: IPv4Address] = [:]
        for device in (try? System.enumerateDevices()) ?? [] {
            if let address = device.address?.ipv4, result[device.interfaceIndex] == nil {
                result[device.interfaceIndex] = address
            }
        }
        return result
    }
}
