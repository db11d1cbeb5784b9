import BootPolicy

/// Which view of an image a machine's NBD connection gets: a LAN host has no credentials, so a
/// machine's own layer is given only to the address that machine last fetched its boot script
/// from (vboot's inventory and timeline), and kept across boots only where the inventory says
/// so (the machine's variable `layer=persistent`).
enum NBDLayerPolicy {
    static let variable = "layer"

    static func decide(machine: Machine?, timeline: [BootEvent], client: String?) -> NBDExports.Layer {
        guard let machine else { return .refused("not in vboot's inventory") }
        // Newest first: the address of its latest boot script.
        let booted = timeline.filter { $0.kind == .script && $0.outcome == .ok && $0.address != nil }
            .max { $0.at < $1.at }?.address
        guard let booted else { return .refused("\(machine.mac) has not fetched a boot script from vboot") }
        guard let client, client == booted else {
            return .refused("\(machine.mac) booted from \(booted), not \(client ?? "an unknown address")")
        }
        return machine.variables[variable] == "persistent" ? .persistent : .scratch
    }
}
