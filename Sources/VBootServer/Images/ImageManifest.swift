import Foundation

/// `vboot-image.json`, written by `vboot image build` beside the image's files: what went into
/// the image (suite, mirror, packages with versions, hooks) and each file's size and SHA-256.
/// vboot serves a file the manifest names only when it still matches (`ImageVerifier`).
public struct ImageManifest: Codable, Hashable, Sendable {
    public struct File: Codable, Hashable, Sendable {
        public var name: String
        public var size: Int
        public var sha256: String

        public init(name: String, size: Int, sha256: String) {
            self.name = name
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct Package: Codable, Hashable, Sendable {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    public static let fileName = "vboot-image.json"
    public static let currentFormat = 1
    /// The names `vboot image build` gives the image's three files.
    public static let rootName = "filesystem.squashfs", kernelName = "vmlinuz", initrdName = "initrd.img"
    /// The same tree as a writable file system image, for machines whose root is a network
    /// block device (vboot's NBD server, a per-machine overlay over this shared base).
    public static let blockRootName = "root.img"

    public var format = Self.currentFormat
    public var suite: String
    public var architecture: String
    public var mirror: String
    /// Every time stamp in the image (`SOURCE_DATE_EPOCH`): the same inputs built with the same
    /// epoch give the same package set, and the same bytes where Debian's tools allow.
    public var sourceDateEpoch: Int
    /// The kernel's version (`uname -r` on the booted machine).
    public var kernel: String
    /// The packages asked for beyond the defaults.
    public var include: [String]
    /// The site's customize hooks, by name, with their digests.
    public var hooks: [File]
    public var packages: [Package]
    public var files: [File]
    /// The vboot that built it.
    public var builtBy: String

    public init(
        suite: String, architecture: String, mirror: String, sourceDateEpoch: Int, kernel: String, include: [String],
        hooks: [File], packages: [Package], files: [File], builtBy: String
    ) {
        self.suite = suite
        self.architecture = architecture
        self.mirror = mirror
        self.sourceDateEpoch = sourceDateEpoch
        self.kernel = kernel
        self.include = include
        self.hooks = hooks
        self.packages = packages
        self.files = files
        self.builtBy = builtBy
    }

    enum CodingKeys: String, CodingKey {
        case format, suite, architecture, mirror, kernel, include, hooks, packages, files
        case sourceDateEpoch = "source_date_epoch", builtBy = "built_by"
    }

    /// The file the manifest names `name`, if it does (a plain name in the manifest's directory).
    public func file(named name: String) -> File? { files.first { $0.name == name } }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    public static func decode(_ data: Data) throws -> ImageManifest {
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: data)
        guard manifest.format == currentFormat else {
            throw ManifestError("format \(manifest.format), this vboot reads format \(currentFormat)")
        }
        // Names are files beside the manifest: nothing else on the disk is hashed or served by it.
        for file in manifest.files where !isPlainName(file.name) {
            throw ManifestError("file name \"\(file.name)\" is not a plain name beside the manifest")
        }
        return manifest
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name != fileName && !name.contains("/") && !name.contains("\0")
    }

    public struct ManifestError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
