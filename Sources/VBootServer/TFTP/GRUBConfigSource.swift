import BootPolicy
import DHCPv4
import Logging

/// GRUB's configurations over TFTP: the first one, the same for every machine
/// (`GRUBChain.bootstrap`), and the machine's own (`vboot/grub/<mac>.cfg`), which the inventory
/// decides as it does `/boot.ipxe` and a declarative profile renders for GRUB. Whatever GRUB
/// cannot boot becomes a configuration that says why on the machine's screen.
struct GRUBConfigSource: Sendable {
    let inventory: Inventory
    let scripts: BootScriptSource
    let httpPort: Int
    let logger: Logger

    /// For the machine `mac` asking from `address`, which reached vboot at `local` (its
    /// `{{server}}`, `{{assets}}` and callback URL name that address).
    func configuration(
        for mac: HardwareAddress, from address: IPv4Address?, reachedAt local: IPv4Address
    ) async
        -> String
    {
        let request = Inventory.ScriptRequest(
            mac: mac, query: [:], serverURL: "http://\(local):\(httpPort)", address: address, loader: .grub)
        do {
            switch try await inventory.script(for: request, scripts: scripts) {
            case .script(let text, _): return text
            case .refused(let reason), .explained(_, let reason): return GRUBRendering.refusal(reason)
            }
        } catch {
            logger.error("tftp: GRUB configuration for \(mac): \(error)")
            return GRUBRendering.refusal("vboot could not read its inventory (see its log)")
        }
    }
}
