import ArgumentParser
import Foundation
import Glibc
import VBootServer

struct ImageBuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract:
            "Build a diskless root image from Debian's packages (mmdebstrap, squashfs) with its kernel, initrd and manifest, and publish it in one step.",
        discussion: """
            Writes OUT/filesystem.squashfs, OUT/vmlinuz, OUT/initrd.img and OUT/vboot-image.json \
            (package versions, SHA-256 of each file). Put OUT under the assets tree \
            (ASSETS/images/NAME) and boot machines with the diskless profile. vboot serves an \
            image's files only while they match the manifest. Needs root, mmdebstrap and \
            squashfs-tools.
            """
    )

    @Option(help: "The image's directory, e.g. /var/lib/vboot/assets/images/lab (replaced in one step).")
    var out: String

    @Option(help: "Debian suite.") var suite = "bookworm"
    @Option(name: .customLong("arch"), help: "Debian architecture (amd64 or arm64).") var architecture = "amd64"
    @Option(help: "Debian mirror (http, https or file URL).") var mirror = "http://deb.debian.org/debian"

    @Option(
        name: .customLong("include"),
        help: "More packages, comma-separated or repeated (e.g. openssh-server,xfce4); NAME=VERSION pins one.")
    var include: [String] = []

    @Option(
        name: .customLong("hook"),
        help:
            "An executable run after the packages with the root tree as its first argument (users, files, services of the site); repeatable, in order."
    )
    var hooks: [String] = []

    @Option(help: "Every time stamp in the image (default: $SOURCE_DATE_EPOCH, else now).")
    var sourceDateEpoch: Int?

    @Option(help: "squashfs compression.") var compression = ImageBuildPlan.Compression.zstd

    @Flag(
        help:
            "Also write root.img (ext4) for the diskless-nbd profile: machines whose root is vboot's NBD export, each with its own layer on the server (vboot serve --nbd-port)."
    )
    var blockRoot = false

    @Option(
        help:
            "root.img's size (M or G): the room each machine's own layer has. (default: the tree plus 1 GiB)")
    var blockRootSize: String?

    @Option(help: "Where the root tree is made (about 700 MB), removed afterwards.")
    var work: String = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/var/tmp"

    func run() async throws {
        let epoch =
            sourceDateEpoch ?? ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { Int($0) }
            ?? Int(Date().timeIntervalSince1970)
        var plan = ImageBuildPlan(sourceDateEpoch: epoch)
        plan.suite = suite
        plan.architecture = architecture
        plan.mirror = mirror
        plan.include = include.flatMap { $0.split(separator: ",").map(String.init) }
        // mmdebstrap runs hooks from its own directory: a relative path would name another file.
        plan.hooks = hooks.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        plan.compression = compression
        if blockRoot || blockRootSize != nil {
            guard let size = blockRootSize.map(Self.size) ?? 0 else {
                throw ValidationError("--block-root-size \(blockRootSize ?? ""): a size such as 2048M or 4G")
            }
            plan.blockRootSize = size
        }
        let started = Date()
        let builder = ImageBuilder(
            plan: plan, out: out, work: work, builtBy: "vboot \(VBootVersion.current)",
            say: {
                print("==> \($0)")
                fflush(nil)  // before the tools' own output, also when stdout is a file
            })
        let manifest: ImageManifest
        do {
            manifest = try builder.run(progress: isatty(STDOUT_FILENO) == 1)
        } catch {
            FileHandle.standardError.write(Data("vboot image build: \(error)\n".utf8))
            throw ExitCode.failure
        }
        print(
            "published \(out) in \(Int(Date().timeIntervalSince(started))) s: kernel \(manifest.kernel), \(manifest.packages.count) packages"
        )
        for file in manifest.files {
            print("  \(file.name)  \(file.size) bytes  sha256 \(file.sha256)")
        }
    }
}

extension ImageBuildPlan.Compression: ExpressibleByArgument {}

extension ImageBuild {
    /// `512M`, `4G`: bytes.
    static func size(_ text: String) -> Int? {
        let units: [Character: Int] = ["M": 20, "G": 30]
        guard let unit = text.last.flatMap({ units[Character($0.uppercased())] }), let number = Int(text.dropLast()),
            number > 0
        else { return nil }
        return number << unit
    }
}
