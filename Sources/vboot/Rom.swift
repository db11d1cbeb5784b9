import ArgumentParser

/// `vboot rom`: build, inspect and inject iPXE ROMs.
struct Rom: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build iPXE with vboot's embedded script, inspect ROMs, and wire them into VMs.",
        subcommands: [RomBuild.self, RomInspect.self, RomInject.self]
    )
}
