import Foundation

/// `vboot rom build` without the argument parsing: recipe → plan → tree → make → outputs and
/// `manifest.json`.
public struct IPXEBuildJob: Sendable {
    public var source: String?
    /// The embedded script's template and vboot's URL for it; nil builds iPXE without one.
    public var embed: (templateFile: String, server: String)?
    public var targets: [String]
    public var out: String
    public var recipe: String
    public var cache: String
    public var jobs: Int
    /// A branch, tag or commit to clone instead of the pinned commit (no effect with `source`).
    public var ref: String?
    /// Adds iPXE's QEMU debug-port console (port 0x402, `-debugcon`), for logs without a serial device.
    public var debugcon = false

    public init(
        source: String?, embed: (templateFile: String, server: String)?, targets: [String], out: String, recipe: String,
        cache: String, jobs: Int
    ) {
        self.source = source
        self.embed = embed
        self.targets = targets
        self.out = out
        self.recipe = recipe
        self.cache = cache
        self.jobs = jobs
    }

    /// Written beside the outputs.
    public struct Manifest: Codable, Hashable, Sendable {
        public struct File: Codable, Hashable, Sendable {
            public var name: String
            public var size: Int
            public var sha256: String
        }
        public var commit: String
        public var source: String
        public var configHash: String
        /// Nil for a build without an embedded script (and then no server either).
        public var scriptHash: String?
        public var server: String?
        public var files: [File]
    }

    /// Reads `config/local/*.h` of the recipe.
    public static func headers(inRecipe recipe: String) throws -> [String: String] {
        let directory = "\(recipe)/config/local"
        var headers: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".h") {
            headers[name] = try String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
        }
        return headers
    }

    /// The plan this job would run, without touching the source or the cache.
    public func plan(commit: String, lock: IPXELock) throws -> IPXEBuildPlan {
        let script = try embed.map { (try String(contentsOfFile: $0.templateFile, encoding: .utf8), $0.server) }
        var headers = try Self.headers(inRecipe: recipe)
        if debugcon {
            headers["console.h", default: ""] += "\n/* vboot rom build --debugcon */\n#define CONSOLE_DEBUGCON\n"
        }
        return try IPXEBuildPlan.make(
            commit: commit, targets: targets, embed: script, headers: headers,
            sourceDateEpoch: lock.epoch ?? 1)
    }

    public func run(progress: BuildProgressReporting) throws -> String {
        let lock = try IPXELock(parsing: String(contentsOfFile: "\(recipe)/ipxe.lock", encoding: .utf8))
        // Before any clone: the targets alone say which compilers the build needs.
        let missing = IPXEBuilder.missingToolchain(for: try plan(commit: lock.commit, lock: lock))
        guard missing.isEmpty else {
            throw IPXEBuilder.BuildError(
                "the iPXE build needs a C toolchain: apt install \(missing.joined(separator: " "))")
        }
        let builder = IPXEBuilder(cacheDirectory: cache, jobs: jobs)
        let sourceDirectory: String
        let commit: String
        var isDirectory: ObjCBool = false
        if let source, FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue
        {
            let unpacked = try builder.unpackSource(source)
            sourceDirectory = unpacked.directory
            commit = unpacked.commit ?? "local-" + Checksum.sha256(Array(sourceDirectory.utf8)).prefix(28)
        } else if let source {
            sourceDirectory = URL(fileURLWithPath: source).standardizedFileURL.path
            commit =
                Self.gitCommit(of: sourceDirectory) ?? "local-"
                + Checksum.sha256(Array(sourceDirectory.utf8)).prefix(28)
        } else {
            sourceDirectory = try builder.fetchSource(lock, ref: ref)
            commit = ref == nil ? lock.commit : (Self.gitCommit(of: sourceDirectory) ?? ref!)
        }
        let plan = try plan(commit: commit, lock: lock)
        let started = Date()
        let tree = try builder.prepareTree(plan, source: sourceDirectory)
        try builder.make(plan, tree: tree) { progress.report($0) }
        progress.finish()
        let manifest = try collect(plan, tree: tree, source: sourceDirectory)
        let seconds = Date().timeIntervalSince(started)
        var lines = [
            "built \(manifest.files.count) files in \(String(format: "%.1f", seconds)) s into \(out) (iPXE \(commit.prefix(12)), tree \(tree))"
        ]
        for file in manifest.files {
            lines.append("  \(file.name)  \(file.size) bytes  sha256 \(file.sha256.prefix(16))…")
        }
        return lines.joined(separator: "\n")
    }

    func collect(_ plan: IPXEBuildPlan, tree: String, source: String) throws -> Manifest {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var files: [Manifest.File] = []
        for target in plan.targets {
            let bytes: [UInt8]
            switch target {
            case .optionROM(_, .combined):
                // iPXE's legacy ROM then its EFI ROM, the last-image indicator moved to the EFI one.
                let parts = try target.makeGoals.map { try OptionROM(parsing: Self.read("\(tree)/src/\($0)")) }
                bytes = try OptionROM.combining(parts).encode()
            default:
                bytes = try Self.read("\(tree)/src/\(target.makeGoals[0])")
            }
            let path = "\(out)/\(target.outputName)"
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
            files.append(Manifest.File(name: target.outputName, size: bytes.count, sha256: Checksum.sha256(bytes)))
        }
        let manifest = Manifest(
            commit: plan.commit, source: source, configHash: plan.configHash, scriptHash: plan.scriptHash,
            server: embed?.server, files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: "\(out)/manifest.json"), options: .atomic)
        return manifest
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IPXEBuilder.BuildError("make succeeded but \(path) is missing")
        }
        return [UInt8](data)
    }

    static func gitCommit(of directory: String) -> String? {
        guard FileManager.default.fileExists(atPath: "\(directory)/.git") else { return nil }
        let lines = IPXEBuilder.LineCollector()
        let status = try? IPXEBuilder.run(
            "/usr/bin/env", ["git", "-C", directory, "rev-parse", "HEAD"], log: nil, onLine: lines.append)
        let commit = lines.lines.first ?? ""
        return status == 0 && commit.count == 40 && commit.allSatisfy(\.isHexDigit) ? commit : nil
    }
}

/// Where build progress goes (a terminal bar, log lines, or nothing in tests).
public protocol BuildProgressReporting: Sendable {
    func report(_ progress: IPXEBuilder.Progress)
    func finish()
}
