import CLinux
import Foundation
import Glibc

/// Runs an `ImageBuildPlan`: the root tree in a work directory, the image's files in a staging
/// directory beside `out`, then one atomic exchange publishes them (no moment with no image, or
/// with the old kernel beside the new root; machines booting the old image keep the files they
/// opened). A failed or interrupted build leaves `out` as it was; what it left behind is removed
/// by the next build of the same name.
public struct ImageBuilder: Sendable {
    public struct BuildError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public var plan: ImageBuildPlan
    /// The published image's directory (`ASSETS/images/NAME`).
    public var out: String
    /// Where the root tree is made (about 700 MB for the base packages); removed afterwards.
    public var work: String
    public var builtBy: String
    /// Step lines (`[1/4] packages: ...`).
    public var say: @Sendable (String) -> Void

    public init(
        plan: ImageBuildPlan, out: String, work: String, builtBy: String, say: @escaping @Sendable (String) -> Void
    ) {
        self.plan = plan
        self.out = out
        self.work = work
        self.builtBy = builtBy
        self.say = say
    }

    public static let tools = ["mmdebstrap": "mmdebstrap", "mksquashfs": "squashfs-tools", "dpkg-query": "dpkg"]

    /// Builds and publishes; returns the manifest written.
    public func run(progress: Bool) throws -> ImageManifest {
        let problems = plan.problems()
        guard problems.isEmpty else { throw BuildError(problems.joined(separator: "; ")) }
        guard geteuid() == 0 else {
            throw BuildError(
                "vboot image build needs root: mmdebstrap makes the tree with its owners (--mode=root) and mksquashfs reads files only root may read"
            )
        }
        var paths: [String: String] = [:]
        var tools = Self.tools
        if plan.blockRootSize != nil { tools["mkfs.ext4"] = "e2fsprogs" }
        for (tool, package) in tools {
            guard let path = Self.which(tool) else { throw BuildError("\(tool) not found: apt-get install \(package)") }
            paths[tool] = path
        }
        let out = URL(fileURLWithPath: self.out).standardizedFileURL.path
        let parent = (out as NSString).deletingLastPathComponent
        let name = (out as NSString).lastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let lock = try Self.lock(parent + "/.\(name).lock")
        defer { close(lock) }
        let scratchPrefix = "vboot-image-\(name)-", stagingPrefix = ".\(name).building-"
        try removeLeftovers(in: work, prefix: scratchPrefix)
        try removeLeftovers(in: parent, prefix: stagingPrefix)
        vboot_catch_interrupt()
        let scratch = try Self.temporaryDirectory(in: work, prefix: scratchPrefix)
        defer { try? Self.remove(scratch) }
        let staging = try Self.temporaryDirectory(in: parent, prefix: stagingPrefix)
        // Gone once renamed to `out`; else a failed build's files, or the old image after the exchange.
        defer { if FileManager.default.fileExists(atPath: staging) { try? Self.remove(staging) } }
        let root = scratch + "/root"

        say(
            "[1/4] packages: mmdebstrap \(plan.suite) \(plan.architecture) from \(plan.mirror): \(plan.packages.joined(separator: " "))"
        )
        try Self.run(paths["mmdebstrap"]!, plan.mmdebstrapArguments(root: root), environment: plan.environment)

        try Self.stopIfInterrupted()
        try ImageIdentity.install(into: root)

        say("[2/4] kernel and initrd from \(root)/boot")
        let kernel = try Self.single(in: root + "/boot", prefix: "vmlinuz-")
        let initrd = try Self.single(in: root + "/boot", prefix: "initrd.img-")
        let version = String(kernel.dropFirst("vmlinuz-".count))
        try FileManager.default.copyItem(
            atPath: "\(root)/boot/\(kernel)", toPath: "\(staging)/\(ImageManifest.kernelName)")
        try FileManager.default.copyItem(
            atPath: "\(root)/boot/\(initrd)", toPath: "\(staging)/\(ImageManifest.initrdName)")

        say("[3/4] root image: mksquashfs, \(plan.compression.rawValue), /boot left out")
        try Self.stopIfInterrupted()
        try Self.run(
            paths["mksquashfs"]!,
            plan.mksquashfsArguments(root: root, output: "\(staging)/\(ImageManifest.rootName)", progress: progress),
            environment: [:], unset: ImageBuildPlan.mksquashfsUnset)
        try Self.stopIfInterrupted()
        var names = [ImageManifest.rootName, ImageManifest.kernelName, ImageManifest.initrdName]
        if let requested = plan.blockRootSize {
            let size =
                requested != 0 ? requested : Self.roundedUp(try Self.treeSize(root) + ImageBuildPlan.blockRootHeadroom)
            say("[3/4] block root: \(ImageManifest.blockRootName), ext4, \(size >> 20) MiB, for NBD")
            try Self.run(
                paths["mkfs.ext4"]!,
                plan.mkfsArguments(root: root, output: "\(staging)/\(ImageManifest.blockRootName)", size: size),
                environment: plan.mkfsEnvironment)
            names.append(ImageManifest.blockRootName)
        }

        say("[4/4] manifest: package versions and SHA-256 of each file")
        let packages = try Self.packages(root: root, dpkgQuery: paths["dpkg-query"]!)
        var files: [ImageManifest.File] = []
        for file in names {
            files.append(try Self.describe(staging + "/" + file, name: file))
        }
        let hooks = try plan.hooks.map { try Self.describe($0, name: ($0 as NSString).lastPathComponent) }
        let manifest = ImageManifest(
            suite: plan.suite, architecture: plan.architecture, mirror: plan.mirror,
            sourceDateEpoch: plan.sourceDateEpoch, kernel: version, include: plan.include, hooks: hooks,
            packages: packages, files: files, builtBy: builtBy)
        try manifest.encoded().write(to: URL(fileURLWithPath: staging + "/" + ImageManifest.fileName))
        // vboot serve reads them as its own user; the epoch on the files too.
        for file in files.map(\.name) + [ImageManifest.fileName] {
            chmod(staging + "/" + file, 0o644)
            var times = [
                timespec(tv_sec: plan.sourceDateEpoch, tv_nsec: 0), timespec(tv_sec: plan.sourceDateEpoch, tv_nsec: 0),
            ]
            utimensat(AT_FDCWD, staging + "/" + file, &times, 0)
        }
        chmod(staging, 0o755)
        try Self.stopIfInterrupted()

        try Self.publish(staging, as: out)
        return manifest
    }

    /// The new directory and the old one swap names in one step (the old one, now under the
    /// staging name, is the caller's to remove); with no image yet, a rename.
    static func publish(_ staging: String, as out: String) throws {
        let replacing = FileManager.default.fileExists(atPath: out)
        guard (replacing ? vboot_exchange_paths(staging, out) : rename(staging, out)) == 0 else {
            throw BuildError("cannot publish \(out): \(String(cString: strerror(errno)))")
        }
    }

    /// Bytes in the tree's regular files (what the block root must hold).
    static func treeSize(_ root: String) throws -> Int {
        guard let walk = FileManager.default.enumerator(atPath: root) else { throw BuildError("cannot read \(root)") }
        var total = 0
        while let name = walk.nextObject() as? String {
            var info = stat()
            if lstat(root + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG { total += Int(info.st_size) }
        }
        return total
    }

    /// Up to a whole 256 MiB.
    static func roundedUp(_ size: Int) -> Int { (size + (256 << 20) - 1) / (256 << 20) * (256 << 20) }

    /// One build of a name at a time (the next one would remove this one's staging directory).
    static func lock(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw BuildError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw BuildError("another vboot image build of this image is running (it holds \(path))")
        }
        return descriptor
    }

    /// Work and staging directories an interrupted build of this name left.
    private func removeLeftovers(in directory: String, prefix: String) throws {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where entry.hasPrefix(prefix) {
            say("removing \(directory)/\(entry), left by an interrupted build")
            try Self.remove(directory + "/" + entry)
        }
    }

    /// Removes a tree unless something is mounted inside it (mmdebstrap mounts /proc, /sys and
    /// /dev in the root while it works; a removal would descend into the host's).
    static func remove(
        _ path: String,
        mountinfo: String = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    ) throws {
        let inside = mountPoints(inMountinfo: mountinfo).filter { $0 == path || $0.hasPrefix(path + "/") }
        guard inside.isEmpty else {
            throw BuildError("\(path) still has \(inside.joined(separator: ", ")) mounted: unmount, then remove it")
        }
        try FileManager.default.removeItem(atPath: path)
    }

    /// The mount points of `/proc/self/mountinfo` (field 5, with its octal escapes undone).
    static func mountPoints(inMountinfo text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { return nil }
            return unescapeMountField(fields[4])
        }
    }

    private static func unescapeMountField(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func stopIfInterrupted() throws {
        if vboot_interrupted() != 0 { throw BuildError("interrupted; the image in place (if any) is unchanged") }
    }

    static func describe(_ path: String, name: String) throws -> ImageManifest.File {
        guard let size = BootFileStore.regularFileSize(path), let digest = FileDigest.sha256(ofFile: path) else {
            throw BuildError("\(path) cannot be read")
        }
        return ImageManifest.File(name: name, size: size, sha256: digest)
    }

    /// The one file in `directory` whose name starts with `prefix` (one kernel per image).
    static func single(in directory: String, prefix: String) throws -> String {
        let found = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            $0.hasPrefix(prefix)
        }
        guard found.count == 1 else {
            throw BuildError(
                found.isEmpty
                    ? "no \(prefix)* in \(directory): the image has no kernel package"
                    : "\(found.count) kernels in \(directory) (\(found.sorted().joined(separator: ", "))): one per image"
            )
        }
        return found[0]
    }

    static func packages(root: String, dpkgQuery: String) throws -> [ImageManifest.Package] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dpkgQuery)
        process.arguments = ["--admindir=\(root)/var/lib/dpkg", "-W", "-f=${Package}\t${Version}\n"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BuildError("dpkg-query in \(root) failed") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return parts.count == 2 ? ImageManifest.Package(name: String(parts[0]), version: String(parts[1])) : nil
        }.sorted { $0.name < $1.name }
    }

    /// Runs a program on this terminal (its own progress shows), failing on a non-zero exit.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String], unset: [String] = []
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter {
            !unset.contains($0.key)
        }
        try process.run()
        vboot_forward_interrupts_to(process.processIdentifier)
        process.waitUntilExit()
        vboot_forward_interrupts_to(0)
        try stopIfInterrupted()
        guard process.terminationStatus == 0 else {
            throw BuildError(
                "\((executable as NSString).lastPathComponent) failed (exit status \(process.terminationStatus)); its output is above"
            )
        }
    }

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return directories.map { $0 + "/" + tool }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func temporaryDirectory(in parent: String, prefix: String) throws -> String {
        var template = Array((parent + "/" + prefix + "XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BuildError("cannot make a directory in \(parent): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }
}
