import DHCPv4
import Testing

@Suite("IPv4Address")
struct IPv4AddressTests {
    @Test(
        "Dotted-quad text parses",
        arguments: [
            ("0.0.0.0", UInt32(0)),
            ("10.77.0.1", 0x0A4D_0001),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("192.168.100.254", 0xC0A8_64FE),
            // Leading zeros are read as decimal (not octal as inet_aton would), up to three digits.
            ("01.2.3.4", 0x0102_0304),
            ("010.000.001.009", 0x0A00_0109),
        ])
    func valid(text: String, rawValue: UInt32) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.rawValue == rawValue)
        #expect(IPv4Address(Substring(text)) == address)
    }

    @Test(
        "Anything else is nil",
        arguments: [
            "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "a.b.c.d", "1.2.3.x",
            "1..2.3", "1.2.3.", ".1.2.3", " 1.2.3.4", "1.2.3.4 ", "0001.2.3.4", "1.2.3.-1",
            "+1.2.3.4", "1.+2.3.4", "-0.0.0.0", "0x0a.0.0.1", "1.2.3.4/24", "١.2.3.4", "１.2.3.4",
        ])
    func invalid(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test("Octets, description and order")
    func formatting() {
        let address = IPv4Address(10, 77, 0, 102)
        #expect(address.rawValue == 0x0A4D_0066)
        #expect(address.octets == [10, 77, 0, 102])
        #expect(address.description == "10.77.0.102")
        #expect(IPv4Address.any.description == "0.0.0.0")
        #expect(IPv4Address.broadcast.description == "255.255.255.255")
        #expect(IPv4Address(1, 20, 100, 9).description == "1.20.100.9")
        #expect(IPv4Address.any.isAny && !address.isAny)
        #expect(IPv4Address.broadcast.octets == [255, 255, 255, 255])
        #expect(IPv4Address(10, 77, 0, 9) < IPv4Address(10, 77, 0, 10))
        #expect(IPv4Address(9, 255, 255, 255) < IPv4Address(10, 0, 0, 0))
        #expect(IPv4Address(address.description) == address)
    }
}

@Suite("HardwareAddress")
struct HardwareAddressTests {
    static let mac: [UInt8] = [0x52, 0x54, 0x00, 0xAA, 0x00, 0x01]

    @Test(
        "Colon, hyphen and bare hex forms parse, in either case",
        arguments: [
            "52:54:00:aa:00:01", "52:54:00:AA:00:01", "52-54-00-aa-00-01", "52-54-00-AA-00-01", "525400aa0001",
            "525400AA0001",
        ])
    func valid(text: String) throws {
        let address = try #require(HardwareAddress(text))
        #expect(address.bytes == Self.mac)
    }

    @Test(
        "Other text is nil",
        arguments: [
            "", "52:54:00:aa:00", "52:54:00:aa:00:01:02", "52:54:00:aa:00:0g", "52 54 00 aa 00 01",
            "525400aa000", "525400aa00011", "52.54.00.aa.00.01", "５2:54:00:aa:00:01",
        ])
    func invalid(text: String) {
        #expect(HardwareAddress(text) == nil)
    }

    @Test("Formats lowercase with two digits per octet")
    func formatting() {
        let address = HardwareAddress([0x0A, 0x1B, 0x00, 0xFF, 0x05, 0xC0])
        #expect(address.description == "0a:1b:00:ff:05:c0")
        #expect(address.hyphenated == "0a-1b-00-ff-05-c0")
        #expect(address.formatted(separator: "") == "0a1b00ff05c0")
        #expect(HardwareAddress(address.hyphenated) == address)
        #expect(HardwareAddress([]).description == "")
    }

    @Test("The message's hardware address is the first hlen octets of chaddr")
    func chaddrPrefix() {
        var message = DHCPMessage(op: .bootRequest, xid: 1, chaddr: HardwareAddress(Self.mac))
        #expect(message.hlen == 6)
        #expect(message.chaddr == Self.mac + [UInt8](repeating: 0, count: 10))
        message.hlen = 4
        #expect(message.clientHardwareAddress.hyphenated == "52-54-00-aa")
        let long = DHCPMessage(op: .bootRequest, xid: 1, chaddr: HardwareAddress(Array(1...20)))
        #expect(long.hlen == 16)
        #expect(long.chaddr == Array(1...16))
    }
}
