import BootPolicy
import Foundation

/// The lookups a selector turns into, in order: MAC first (the primary key), then the SMBIOS
/// UUID, serial and hostname, so a machine with a replaced NIC is still recognised.
enum SelectorQuery {
    static func lookups(_ selector: MachineSelector) -> [(column: String, value: String)] {
        var lookups: [(String, String)] = []
        if let mac = selector.mac { lookups.append(("mac", mac.description)) }
        if let uuid = selector.uuid { lookups.append(("uuid", uuid)) }
        if let serial = selector.serial { lookups.append(("serial", serial)) }
        if let hostname = selector.hostname { lookups.append(("hostname", hostname)) }
        return lookups
    }

    /// Names the taken selector from the database's unique-violation message.
    static func conflict(from message: String, machine: Machine?) -> String {
        for column in ["uuid", "serial", "hostname", "ipv4", "mac"] where message.contains(column) {
            let value: String? =
                switch column {
                case "uuid": machine?.uuid
                case "serial": machine?.serial
                case "hostname": machine?.hostname
                case "ipv4": machine?.address?.description
                default: machine?.mac.description
                }
            let name = column == "ipv4" ? "address" : column
            return value.map { "\(name) \($0)" } ?? name
        }
        return message
    }
}
