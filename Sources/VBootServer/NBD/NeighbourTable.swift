import DHCPv4
import Foundation

/// The kernel's IPv4 neighbour (ARP) table of vboot's network namespace, as `/proc/net/arp`
/// shows it: which MAC each address on a directly attached network answered from.
enum NeighbourTable {
    static let path = "/proc/net/arp"
    /// `ATF_COM`: the entry is resolved (an incomplete one has a zero MAC).
    static let complete: UInt32 = 0x2

    /// The complete entries: address → MAC. Columns: IP address, HW type, Flags, HW address,
    /// Mask, Device; the first line is the header.
    static func parse(_ text: String) -> [String: HardwareAddress] {
        var entries: [String: HardwareAddress] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 4, fields[2].hasPrefix("0x"), let flags = UInt32(fields[2].dropFirst(2), radix: 16),
                flags & complete != 0, let mac = HardwareAddress(String(fields[3])), mac.bytes.count == 6
            else { continue }
            entries[String(fields[0])] = mac
        }
        return entries
    }

    /// The MAC the kernel has for `address` now, if any.
    static func linkAddress(of address: String) -> HardwareAddress? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return parse(String(decoding: data, as: UTF8.self))[address]
    }
}
