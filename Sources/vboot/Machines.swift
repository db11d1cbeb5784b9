import ArgumentParser

/// `vboot machines`: the inventory through a running server's API.
struct Machines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and change machines in a vboot server's inventory (through its HTTP API).",
        subcommands: [
            MachinesList.self, MachinesShow.self, MachinesAdd.self, MachinesSet.self, MachinesRemove.self,
            MachinesOnce.self, MachinesLocal.self, MachinesTimeline.self,
        ]
    )
}
