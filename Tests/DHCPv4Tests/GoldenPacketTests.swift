import DHCPv4
import NIOCore
import Testing

/// Field values read off the fixtures with `xxd`; see Fixtures/README.md.
@Suite("Golden packets from real firmware")
struct GoldenPacketTests {
    static let ipxeParameterRequestList: [UInt8] = [
        1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119,
        128, 129, 130, 131, 132, 133, 134, 135, 175, 203,
    ]

    @Test("OVMF x64 UEFI PXE DISCOVER")
    func ovmfDiscover() throws {
        let bytes = try Fixture.ovmfX64Discover.bytes()
        #expect(bytes.count == 347)
        let message = try Fixture.ovmfX64Discover.message()

        #expect(message.op == .bootRequest)
        #expect(message.htype == HardwareType.ethernet)
        #expect(message.hlen == 6)
        #expect(message.hops == 0)
        #expect(message.xid == 0xBC4A_02D9)
        #expect(message.secs == 0)
        #expect(message.flags == 0x8000)
        #expect(message.isBroadcast)
        #expect(message.ciaddr == .any && message.yiaddr == .any && message.siaddr == .any && message.giaddr == .any)
        #expect(message.clientHardwareAddress.description == "52:54:00:aa:00:01")
        #expect(message.chaddr.count == 16 && message.chaddr[6...].allSatisfy { $0 == 0 })
        #expect(message.bootFileName == "")
        #expect(message.serverHostName == "")
        #expect(message.trailingPadding == 0)

        #expect(message.messageType == .discover)
        #expect(message.option(.maximumMessageSize) == [0x05, 0xC0])  // 1472
        #expect(message.vendorClassIdentifier == "PXEClient:Arch:00007:UNDI:003000")
        #expect(try message.clientArchitectures() == [.efiX86_64])
        #expect(try message.clientNetworkInterface() == ClientNetworkInterface(type: 1, major: 3, minor: 0))
        let machine = try #require(try message.clientMachineIdentifier())
        #expect(machine.type == 0)
        #expect(machine.guid == [UInt8](repeating: 0, count: 16))
        #expect(machine.description == "00000000-0000-0000-0000-000000000000")
        let requested = try #require(message.option(.parameterRequestList))
        #expect(requested.count == 35)
        #expect(requested.prefix(6) == [1, 2, 3, 4, 5, 6])
        #expect(requested.suffix(8) == [128, 129, 130, 131, 132, 133, 134, 135])
        #expect(requested.contains(DHCPOptionCode.clientMachineIdentifier.rawValue))
        #expect(message.userClass == nil)
        #expect(message.option(.clientIdentifier) == nil)
        #expect(message.option(.ipxeEncapsulated) == nil)
        // Wire order, which the codec keeps.
        #expect(message.options.map(\.code.rawValue) == [53, 57, 55, 97, 94, 93, 60])
    }

    @Test("iPXE EFI (virtio ROM) DISCOVER")
    func ipxeEFIDiscover() throws {
        let bytes = try Fixture.ipxeEFIDiscover.bytes()
        #expect(bytes.count == 388)
        let message = try Fixture.ipxeEFIDiscover.message()

        #expect(message.op == .bootRequest)
        #expect(message.xid == 0x9FCE_BC0A)
        #expect(message.secs == 4)
        #expect(message.flags == 0)
        #expect(!message.isBroadcast)
        #expect(message.clientHardwareAddress.hyphenated == "52-54-00-aa-00-02")
        #expect(message.messageType == .discover)
        #expect(message.option(.maximumMessageSize) == [0x05, 0xC0])
        #expect(try message.clientArchitectures() == [.efiX86_64])
        #expect(try message.clientNetworkInterface() == ClientNetworkInterface(type: 1, major: 3, minor: 10))
        #expect(message.vendorClassIdentifier == "PXEClient:Arch:00007:UNDI:003010")

        let userClass = try #require(message.userClass)
        #expect(userClass.isRFC3004Encoded == false)
        #expect(userClass.strings == ["iPXE"])
        #expect(userClass.contains("iPXE"))

        #expect(message.option(.parameterRequestList) == Self.ipxeParameterRequestList)
        #expect(message.option(.clientIdentifier) == [0x01, 0x52, 0x54, 0x00, 0xAA, 0x00, 0x02])
        let ipxe = try #require(message.option(.ipxeEncapsulated))
        #expect(ipxe.count == 36)
        // Encapsulated option 177 (bus id): PCI (1), vendor 0x1af4 (virtio), device 0x1000.
        #expect(ipxe.prefix(7) == [177, 5, 0x01, 0x1A, 0xF4, 0x10, 0x00])
        // Option 175 is itself a code/length/value area (no end option): read it like option 43.
        let encapsulated = try PXEVendorOptions(parsing: ipxe).suboptions
        #expect(encapsulated.map(\.code.rawValue) == [177, 235, 23, 36, 19, 17, 39, 41, 21, 18])
        #expect(encapsulated[1].data == [1, 0, 0])  // 235: iPXE version 1.0.0
        // 36 is iPXE's "EFI image" feature, which only an EFI build announces.
        #expect(encapsulated[3] == DHCPOption(DHCPOptionCode(36), [1]))

        let machine = try #require(try message.clientMachineIdentifier())
        #expect(machine.type == 0 && machine.guid.count == 16)
        #expect(message.options.map(\.code.rawValue) == [53, 57, 93, 94, 60, 77, 55, 175, 61, 97])
        #expect(message.trailingPadding == 0)
    }

    @Test("iPXE legacy BIOS DISCOVER")
    func ipxeBIOSDiscover() throws {
        let bytes = try Fixture.ipxeBIOSDiscover.bytes()
        #expect(bytes.count == 400)
        let message = try Fixture.ipxeBIOSDiscover.message()

        #expect(message.xid == 0x0165_157D)
        #expect(message.secs == 4)
        #expect(message.clientHardwareAddress == HardwareAddress([0x52, 0x54, 0x00, 0xAA, 0x00, 0x03]))
        #expect(message.messageType == .discover)
        #expect(try message.clientArchitectures() == [.x86BIOS])
        #expect(try message.clientNetworkInterface() == ClientNetworkInterface(type: 1, major: 2, minor: 1))
        #expect(message.vendorClassIdentifier == "PXEClient:Arch:00000:UNDI:002001")
        #expect(message.userClass?.strings == ["iPXE"])
        #expect(message.userClass?.isRFC3004Encoded == false)
        #expect(message.option(.parameterRequestList) == Self.ipxeParameterRequestList)
        let ipxe = try #require(message.option(.ipxeEncapsulated))
        #expect(ipxe.count == 48)
        let encapsulated = try PXEVendorOptions(parsing: ipxe).suboptions
        // The BIOS build announces 34 (ELF), 25 (multiboot), 16 (PXE ext, value 2), 33 (PXE), 24 (bzImage).
        #expect(encapsulated.map(\.code.rawValue) == [177, 235, 23, 34, 19, 17, 39, 25, 41, 16, 33, 21, 24, 18])
        #expect(encapsulated[9] == DHCPOption(DHCPOptionCode(16), [2]))
        #expect(!encapsulated.contains(DHCPOptionCode(36)))
        #expect(message.option(.clientIdentifier) == [0x01, 0x52, 0x54, 0x00, 0xAA, 0x00, 0x03])
        #expect(message.requestedIPAddress == nil)
        #expect(message.serverIdentifier == nil)
    }

    @Test("iPXE legacy BIOS REQUEST for the dnsmasq offer")
    func ipxeBIOSRequest() throws {
        let bytes = try Fixture.ipxeBIOSRequest.bytes()
        #expect(bytes.count == 412)
        let message = try Fixture.ipxeBIOSRequest.message()
        let discover = try Fixture.ipxeBIOSDiscover.message()

        #expect(message.messageType == .request)
        #expect(message.xid == discover.xid)
        #expect(message.secs == 14)
        #expect(message.ciaddr == .any)
        #expect(message.clientHardwareAddress.description == "52:54:00:aa:00:03")
        #expect(message.serverIdentifier == IPv4Address(10, 77, 0, 1))
        #expect(message.requestedIPAddress == IPv4Address(10, 77, 0, 102))
        #expect(try message.clientArchitectures() == [.x86BIOS])
        // Same options as the DISCOVER, then 54 and 50.
        #expect(message.options.map(\.code.rawValue) == [53, 57, 93, 94, 60, 77, 55, 175, 61, 97, 54, 50])
        #expect(Array(message.options.dropFirst().prefix(9)) == Array(discover.options.dropFirst()))
    }

    @Test("dnsmasq OFFER")
    func dnsmasqOffer() throws {
        let bytes = try Fixture.dnsmasqOffer.bytes()
        #expect(bytes.count == DHCPMessage.minimumBOOTPLength)
        let message = try Fixture.dnsmasqOffer.message()

        #expect(message.op == .bootReply)
        #expect(message.xid == 0x0165_157D)
        #expect(message.yiaddr == IPv4Address(10, 77, 0, 102))
        #expect(message.yiaddr.description == "10.77.0.102")
        #expect(message.siaddr == IPv4Address(10, 77, 0, 1))
        #expect(message.giaddr == .any)
        #expect(message.clientHardwareAddress.description == "52:54:00:aa:00:03")
        #expect(message.bootFileName == "")
        #expect(message.messageType == .offer)
        #expect(message.serverIdentifier == IPv4Address(10, 77, 0, 1))
        #expect(message.option(.leaseTime) == [0, 0, 0x0E, 0x10])  // 3600 s
        #expect(message.option(.renewalTime) == [0, 0, 0x07, 0x08])  // 1800 s
        #expect(message.option(.rebindingTime) == [0, 0, 0x0C, 0x4E])  // 3150 s
        #expect(message.option(.subnetMask) == [255, 255, 255, 0])
        #expect(message.option(DHCPOptionCode(28)) == [10, 77, 0, 255])  // broadcast address
        #expect(message.option(.router) == [10, 77, 0, 1])
        #expect(message.options.map(\.code.rawValue) == [53, 54, 51, 58, 59, 1, 28, 3])
        // The end option is at offset 285; dnsmasq pads to 300 octets.
        #expect(bytes[285] == 255)
        #expect(message.trailingPadding == 14)
        #expect(try message.pxeVendorOptions() == nil)
    }

    @Test("parse → encode reproduces the datagram byte for byte", arguments: Fixture.allCases)
    func byteExactRoundTrip(_ fixture: Fixture) throws {
        let bytes = try fixture.bytes()
        let message = try fixture.message()

        var buffer = ByteBuffer()
        message.encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(Array(message.encoded().readableBytesView) == bytes)
        #expect(try DHCPMessage(parsing: buffer) == message)
    }

    @Test("Parsing leaves the reader index after the datagram")
    func parsingConsumesTheBuffer() throws {
        var buffer = ByteBuffer(bytes: try Fixture.ovmfX64Discover.bytes())
        _ = try DHCPMessage(parsing: &buffer)
        #expect(buffer.readableBytes == 0)
    }

    @Test("Trailing zeros survive a round trip only through trailingPadding")
    func trailingPaddingPreservesZeros() throws {
        var message = try Fixture.dnsmasqOffer.message()
        message.trailingPadding = 0
        let stripped = message.encoded()
        #expect(stripped.readableBytes == 286)
        #expect(stripped.getInteger(at: 285, as: UInt8.self) == 255)
        // minimumLength restores the same 300 octets dnsmasq sent.
        #expect(Array(message.encoded(minimumLength: 300).readableBytesView) == (try Fixture.dnsmasqOffer.bytes()))
    }
}
