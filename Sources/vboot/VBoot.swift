import ArgumentParser

/// `vboot`: a tiny root; each subcommand lives in its own file.
@main
struct VBoot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vboot",
        abstract: "Network boot service: proxyDHCP, TFTP and HTTP for PXE, UEFI HTTP Boot and iPXE.",
        version: VBootVersion.current,
        subcommands: [Serve.self, Machines.self, Assets.self, Image.self, Trace.self, Rom.self, Vm.self]
    )
}
