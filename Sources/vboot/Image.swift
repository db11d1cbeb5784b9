import ArgumentParser

/// `vboot image`: diskless root images.
struct Image: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Diskless root images: one shared system that many machines boot from vboot.",
        subcommands: [ImageBuild.self]
    )
}
