import BootPolicy
import DHCPv4
import Logging
import NIOConcurrencyHelpers

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
            inventory.recorder.record(
                .script, .failed, mac: mac, address: address, summary: "GRUB configuration: \(error)")
            return GRUBRendering.refusal("vboot: \(error)")
        }
    }
}

/// The GRUB configurations being rendered now. A render waits on the inventory (a database
/// round trip with a shared store), so a LAN host could otherwise queue any number of them: one
/// at a time per client address (GRUB's retransmissions and a second name from the same host wait
/// their turn: the client asks again), `limit` in all; a request over either is dropped unanswered.
final class GRUBRenderSlots: Sendable {
    static let defaultLimit = 64
    private let busy = NIOLockedValueBox<Set<IPv4Address>>([])
    let limit: Int

    init(limit: Int = defaultLimit) { self.limit = limit }

    func take(_ address: IPv4Address) -> Bool {
        busy.withLockedValue { busy in
            guard busy.count < limit, !busy.contains(address) else { return false }
            busy.insert(address)
            return true
        }
    }

    func give(_ address: IPv4Address) { _ = busy.withLockedValue { $0.remove(address) } }
}
