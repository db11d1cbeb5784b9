import ArgumentParser

/// `vboot vm`: run guests against vboot.
struct Vm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a QEMU/OVMF virtual machine that network-boots, for trying vboot out.",
        subcommands: [VmRun.self])
}
