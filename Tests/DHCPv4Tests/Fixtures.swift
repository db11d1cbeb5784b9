import DHCPv4
import Foundation
import NIOCore
import Testing

/// The golden datagrams in `Fixtures/` (see `Fixtures/README.md` for where each came from).
enum Fixture: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case ovmfX64Discover = "ovmf-x64-discover"
    case ipxeEFIDiscover = "ipxe-efi-discover"
    case ipxeBIOSDiscover = "ipxe-bios-discover"
    case ipxeBIOSRequest = "ipxe-bios-request"
    case dnsmasqOffer = "dnsmasq-offer"

    var testDescription: String { rawValue + ".bin" }

    func bytes() throws -> [UInt8] {
        let url = try #require(
            Bundle.module.url(forResource: rawValue, withExtension: "bin", subdirectory: "Fixtures"),
            "fixture \(rawValue).bin is not in the test bundle"
        )
        return [UInt8](try Data(contentsOf: url))
    }

    func message() throws -> DHCPMessage {
        try DHCPMessage(parsing: ByteBuffer(bytes: bytes()))
    }
}

/// `text` as ASCII octets, for spelling out expected wire bytes field by field.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Catches the typed error of a DHCP parse, so tests can compare it with `==`.
func dhcpParseError(_ bytes: [UInt8]) -> DHCPParseError? {
    do {
        _ = try DHCPMessage(parsing: ByteBuffer(bytes: bytes))
        return nil
    } catch {
        return error
    }
}

/// A minimal valid datagram: BOOTREQUEST header for 52:54:00:aa:00:01, cookie, then `options`
/// (raw option-area bytes, which the caller terminates or not).
func datagram(hlen: UInt8 = 6, options: [UInt8] = [255]) -> [UInt8] {
    var bytes: [UInt8] = [1, 1, hlen, 0]  // op, htype, hlen, hops
    bytes += [0x12, 0x34, 0x56, 0x78]  // xid
    bytes += [0, 0, 0, 0]  // secs, flags
    bytes += [UInt8](repeating: 0, count: 16)  // ciaddr, yiaddr, siaddr, giaddr
    bytes += [0x52, 0x54, 0x00, 0xAA, 0x00, 0x01] + [UInt8](repeating: 0, count: 10)  // chaddr
    bytes += [UInt8](repeating: 0, count: 64 + 128)  // sname, file
    bytes += [99, 130, 83, 99]  // magic cookie
    return bytes + options
}
