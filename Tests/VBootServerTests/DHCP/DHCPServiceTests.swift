import DHCPv4
import Foundation
import NIOCore
import Testing
import VBootServer

/// The proxyDHCP service on loopback: port 4011 replies go back to the asking socket, so a test
/// can play the client without broadcast.
@Suite("proxyDHCP service", .serialized)
struct DHCPServiceTests {
    static func request() -> DHCPMessage {
        var request = DHCPMessage(
            op: .bootRequest, xid: 0xCAFE_F00D, chaddr: HardwareAddress("52:54:00:aa:00:07")!,
            ciaddr: IPv4Address(127, 0, 0, 1))
        request.options = [
            DHCPOption(.messageType, [DHCPMessageType.request.rawValue]),
            DHCPOption(.vendorClassIdentifier, string: "PXEClient:Arch:00007:UNDI:003000"),
            DHCPOption(.clientSystemArchitecture, [0, 7]),
        ]
        return request
    }

    @Test func bootServerAnswersOverARealSocket() async throws {
        let server = try TestServer(dhcp: .proxy)
        try server.write([0x4D, 0x5A], to: "ipxe/ipxe.efi")
        try await server.start(expecting: ["pxe", "dhcp", "tftp"])
        let client = try UDPClient()
        client.send(Self.request().encoded().bytes, to: UInt16(server.port("pxe")))
        let answer = try #require(client.receive())
        let reply = try DHCPMessage(parsing: ByteBuffer(bytes: answer.bytes))
        #expect(answer.port == UInt16(server.port("pxe")))
        #expect(reply.xid == 0xCAFE_F00D)
        #expect(reply.messageType == .ack)
        #expect(reply.bootFileName == "ipxe.efi")
        #expect(reply.siaddr == IPv4Address(127, 0, 0, 1))
        #expect(answer.bytes.count >= DHCPMessage.minimumBOOTPLength)
        await server.stop()
    }

    @Test func malformedDatagramsAreDroppedAndCounted() async throws {
        let server = try TestServer(dhcp: .proxy)
        try server.write([0x4D, 0x5A], to: "ipxe/ipxe.efi")
        try await server.start(expecting: ["pxe", "dhcp"])
        let client = try UDPClient()
        var truncated = Self.request().encoded().bytes
        truncated.removeLast(truncated.count - 250)
        truncated[240] = 53
        truncated[241] = 200  // option length past the end
        for garbage in [[0x01], Array(repeating: 0xFF, count: 300), truncated] {
            client.send(garbage, to: UInt16(server.port("pxe")))
        }
        #expect(client.receive(timeout: .milliseconds(300)) == nil)
        #expect(server.server.counters[.dhcpPacketsMalformed] == 3)
        // Still answering.
        client.send(Self.request().encoded().bytes, to: UInt16(server.port("pxe")))
        #expect(client.receive() != nil)
        await server.stop()
    }

    @Test func nonPXEClientGetsNothing() async throws {
        let server = try TestServer(dhcp: .proxy)
        try await server.start(expecting: ["pxe"])
        var request = Self.request()
        request.options = [DHCPOption(.messageType, [DHCPMessageType.request.rawValue])]
        let client = try UDPClient()
        client.send(request.encoded().bytes, to: UInt16(server.port("pxe")))
        #expect(client.receive(timeout: .milliseconds(300)) == nil)
        // Counted once the handler has run, which under a loaded suite can come after the wait.
        let deadline = ContinuousClock.now + .seconds(5)
        while server.server.counters[.dhcpSilent] == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.server.counters[.dhcpSilent] == 1)
        await server.stop()
    }
}
