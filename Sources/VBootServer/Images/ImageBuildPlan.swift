import Crypto
import Foundation

/// What `vboot image build` runs, decided before anything runs: mmdebstrap makes the root tree
/// from Debian's packages (live-boot's initramfs fetches the image over HTTP with `fetch=`),
/// mksquashfs packs it without `/boot` (the kernel and initrd go beside it, for iPXE or GRUB).
public struct ImageBuildPlan: Sendable, Hashable {
    public var suite = "bookworm"
    public var architecture = "amd64"
    public var mirror = "http://deb.debian.org/debian"
    /// Packages beyond `basePackages`.
    public var include: [String] = []
    /// The site's customize hooks: executables run with the root tree as `$1` after the packages.
    public var hooks: [String] = []
    /// Every time stamp in the image.
    public var sourceDateEpoch: Int
    public var compression = Compression.zstd
    /// Also the tree as `root.img` (ext4) for machines whose root is vboot's NBD export: its
    /// size in bytes (the room every machine's own layer has), 0 for the tree's size plus
    /// `blockRootHeadroom`; nil for none.
    public var blockRootSize: Int?
    public static let blockRootHeadroom = 1 << 30

    public enum Compression: String, Sendable, Hashable, CaseIterable {
        /// Fast to unpack, nearly xz's size.
        case zstd
        case xz, gzip
    }

    public init(sourceDateEpoch: Int) { self.sourceDateEpoch = sourceDateEpoch }

    /// The least that boots to a login prompt and mounts the image over the network: a kernel,
    /// live-boot (its initramfs hook brings `fetch=`, busybox wget and the overlay), systemd,
    /// and ifupdown with a DHCP client for the network live-boot hands over.
    public var basePackages: [String] {
        ["linux-image-\(architecture)", "live-boot", "systemd-sysv", "ifupdown", "isc-dhcp-client"]
            // Its initramfs hook connects /dev/nbd0 for root=/dev/nbd0 nbdroot=...
            + (blockRootSize != nil ? ["nbd-client"] : [])
    }

    public var packages: [String] {
        var seen = Set<String>()
        return (basePackages + include).filter { seen.insert($0).inserted }
    }

    /// Refusals before anything runs: a package name or suite that is not one, a hook that is missing.
    public func problems() -> [String] {
        var found: [String] = []
        let packageName = #/[a-z0-9][a-z0-9+.\-]*(=[A-Za-z0-9.+~:\-]+)?/#
        for name in include where (try? packageName.wholeMatch(in: name)) == nil {
            found.append("--include \(name): not a Debian package name (NAME or NAME=VERSION)")
        }
        if (try? #/[a-z][a-z0-9\-]*/#.wholeMatch(in: suite)) == nil {
            found.append("--suite \(suite): not a suite name")
        }
        if (try? #/[a-z0-9]+/#.wholeMatch(in: architecture)) == nil {
            found.append("--arch \(architecture): not a Debian architecture")
        }
        if !(mirror.hasPrefix("http://") || mirror.hasPrefix("https://") || mirror.hasPrefix("file://")) {
            found.append("--mirror \(mirror): not an http://, https:// or file:// URL")
        }
        if let blockRootSize, blockRootSize != 0, blockRootSize < 64 << 20 {
            found.append("--block-root-size \(blockRootSize): less than 64 MiB")
        }
        for hook in hooks where !FileManager.default.isExecutableFile(atPath: hook) {
            found.append("--hook \(hook): not an executable file")
        }
        return found
    }

    public var environment: [String: String] { ["SOURCE_DATE_EPOCH": String(sourceDateEpoch)] }

    /// mmdebstrap into `root` (a directory; as root, so the tree keeps its owners for mksquashfs).
    public func mmdebstrapArguments(root: String) -> [String] {
        var arguments = [
            "--variant=minbase", "--mode=root", "--arch=\(architecture)",
            "--include=\(packages.joined(separator: ","))",
        ]
        for hook in hooks { arguments.append("--customize-hook=\(Self.quoted(hook)) \"$1\"") }
        // Each machine makes its own identity at boot: no machine ID or host name from the build.
        arguments.append("--customize-hook=: > \"$1/etc/machine-id\"; rm -f \"$1/var/lib/dbus/machine-id\"")
        arguments.append("--customize-hook=echo localhost > \"$1/etc/hostname\"")
        return arguments + [suite, root, mirror]
    }

    /// mksquashfs of `root` into `output`, `/boot` left out, every time stamp the epoch. `-e`
    /// takes every argument after it as a path to leave out, so it comes last; the epoch is
    /// given by options only (mksquashfs 4.5 refuses them with `SOURCE_DATE_EPOCH` set).
    public func mksquashfsArguments(root: String, output: String, progress: Bool) -> [String] {
        [
            root, output, "-noappend", "-comp", compression.rawValue,
            "-all-time", String(sourceDateEpoch), "-mkfs-time", String(sourceDateEpoch),
        ] + (progress ? [] : ["-no-progress"]) + ["-e", "boot"]
    }

    /// The tree as an ext4 image of `size` bytes (`blockRootSize`), its UUID and hash seed from
    /// the inputs and its time stamps the epoch (`mkfsEnvironment`), so the same inputs give
    /// the same file system where mke2fs allows.
    public func mkfsArguments(root: String, output: String, size: Int) -> [String] {
        let uuid = fileSystemUUID
        return [
            "-q", "-F", "-t", "ext4", "-L", "vboot-root", "-U", uuid, "-E", "root_owner=0:0,hash_seed=\(uuid)",
            "-d", root, output, "\(size / 1024)k",
        ]
    }

    public var mkfsEnvironment: [String: String] { ["E2FSPROGS_FAKE_TIME": String(sourceDateEpoch)] }

    /// A UUID made of the inputs (suite, architecture, epoch, packages): RFC 9562's version 4
    /// layout, its bits from SHA-256.
    var fileSystemUUID: String {
        let inputs = "vboot-image \(suite) \(architecture) \(sourceDateEpoch) \(packages)"
        var bytes = Array(SHA256.hash(data: Data(inputs.utf8)).prefix(16))
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { byte in String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16) }.joined()
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex.dropFirst(range.lowerBound).prefix(range.count))
        }.joined(separator: "-")
    }

    /// Variables mksquashfs must not see (`mksquashfsArguments`).
    public static let mksquashfsUnset = ["SOURCE_DATE_EPOCH"]

    /// `/bin/sh` single quotes.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
