import BootPolicy
import DHCPv4

/// Which view of an image a machine's NBD connection gets. A LAN host has no credentials, and
/// anyone can ask for a boot script in any machine's name, so an address is taken to be a
/// machine's only when the kernel's neighbour table says so: the connection's address resolves
/// to that machine's MAC on the wire (forging that takes an ARP attack on the segment, which no
/// plain NBD root withstands). Its layer belongs to one boot: the one whose token
/// (`BootTokens`, rendered into the boot script) the connection presents; kept across boots
/// only where the inventory says so (`layer=persistent`).
enum NBDLayerPolicy {
    static let variable = "layer"

    static func isLoopback(_ address: String) -> Bool { address.hasPrefix("127.") || address == "::1" }

    /// - client: the connection's address; `linkAddress`: the MAC the neighbour table has for it
    ///   (nil: none, the client is not on a directly attached network); `boot`: the time of the
    ///   boot token presented, nil when none was or vboot did not issue it for this machine.
    static func decide(
        machine: Machine?, client: String?, isLoopback: Bool, linkAddress: HardwareAddress?, boot: UInt64?
    ) -> NBDExports.Layer {
        guard let machine else { return .refused("not in vboot's inventory") }
        guard let client else { return .refused("the connection's address is unknown") }
        // The server itself has no link-layer address; whoever runs on it can read the layers anyway.
        if !isLoopback {
            guard let linkAddress else {
                return .refused(
                    "\(client) is not in the server's neighbour table (not on a directly attached network), so its MAC cannot be checked"
                )
            }
            guard linkAddress == machine.mac else {
                return .refused("\(client) is \(linkAddress) on the wire, not \(machine.mac)")
            }
        }
        guard let boot else {
            return .refused(
                "no boot token of \(machine.mac)'s (the export is IMAGE/MAC/TOKEN, TOKEN the boot script's boot_token)")
        }
        return machine.variables[variable] == "persistent" ? .persistent : .scratch(boot: boot)
    }
}
