import Foundation

/// Runs an `IPXEBuildPlan`: a private copy of the iPXE tree per (commit, config), one `make`
/// for every goal, the outputs and a manifest in the output directory. The source given is
/// never written to.
public struct IPXEBuilder: Sendable {
    public struct BuildError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What the runner reports while make runs.
    public struct Progress: Sendable {
        public var step: Int
        /// Steps of the last build of this tree, when known: a bar's length.
        public var expectedSteps: Int?
        public var action: String
        public var file: String
    }

    public let cacheDirectory: String
    public let jobs: Int

    public init(cacheDirectory: String, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.cacheDirectory = cacheDirectory
        self.jobs = max(1, jobs)
    }

    /// The Debian packages a build of `plan` needs, for those found missing (cross compilers
    /// only for the architectures the plan builds).
    public static func missingToolchain(for plan: IPXEBuildPlan) -> [String] {
        var missing: [String] = []
        for (tool, package) in [
            ("gcc", "gcc"), ("ld", "binutils"), ("objcopy", "binutils"), ("make", "make"), ("perl", "perl"),
        ]
        where which(tool) == nil && !missing.contains(package) {
            missing.append(package)
        }
        if !FileManager.default.fileExists(atPath: "/usr/include/lzma.h") { missing.append("liblzma-dev") }
        for arch in plan.crossArchitectures {
            if let prefix = arch.crossCompilePrefix, which("\(prefix)gcc") == nil {
                missing.append(arch.crossCompilerPackage)
            }
        }
        return missing
    }

    static func which(_ tool: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Clones `ref` (default: the pinned commit) into the cache, once per ref.
    public func fetchSource(_ lock: IPXELock, ref: String? = nil) throws -> String {
        let wanted = ref ?? lock.commit
        // git would read a leading dash as an option.
        guard !wanted.hasPrefix("-"), !wanted.isEmpty else { throw BuildError("--ref \(wanted): not a git ref") }
        let safe = String(wanted.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }.prefix(40))
        let directory = "\(cacheDirectory)/source-\(ref == nil ? String(lock.commit.prefix(12)) : safe)"
        if FileManager.default.fileExists(atPath: "\(directory)/src/Makefile") { return directory }
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        for arguments in [
            ["clone", "--quiet", "--no-checkout", lock.url, directory],
            ["-C", directory, "checkout", "--quiet", wanted],
        ] {
            let result = try Self.run("/usr/bin/env", ["git"] + arguments, log: nil)
            guard result == 0 else {
                throw BuildError(
                    "cannot fetch iPXE \(lock.commit) from \(lock.url) (git exited \(result)); "
                        + "pass --source DIR with an iPXE checkout or unpacked tarball")
            }
        }
        return directory
    }

    /// Unpacks an iPXE source tarball (`git archive` of a commit, or a release archive; any
    /// compression tar reads) into the cache, once per commit. Returns the tree and the commit
    /// recorded in the archive's header (`git get-tar-commit-id`), when it has one.
    public func unpackSource(_ tarball: String) throws -> (directory: String, commit: String?) {
        let commit = Self.tarCommit(tarball)
        let key: String
        if let commit {
            key = String(commit.prefix(12))
        } else {
            guard let bytes = FileManager.default.contents(atPath: tarball) else {
                throw BuildError("cannot read \(tarball)")
            }
            key = "tar-" + Checksum.sha256([UInt8](bytes)).prefix(12)
        }
        let directory = "\(cacheDirectory)/source-\(key)"
        if FileManager.default.fileExists(atPath: "\(directory)/src/Makefile") { return (directory, commit) }
        let partial = "\(directory).partial"
        try? FileManager.default.removeItem(atPath: partial)
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        let status = try Self.run(
            "/usr/bin/env", ["tar", "-xf", tarball, "-C", partial, "--strip-components=1"], log: nil)
        guard status == 0, FileManager.default.fileExists(atPath: "\(partial)/src/Makefile") else {
            try? FileManager.default.removeItem(atPath: partial)
            throw BuildError(
                status == 0
                    ? "\(tarball) holds no iPXE tree (expected one top directory with src/Makefile)"
                    : "cannot unpack \(tarball) (tar exited \(status))")
        }
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.moveItem(atPath: partial, toPath: directory)
        return (directory, commit)
    }

    /// The commit `git archive` wrote into a tarball's pax header, read by git itself.
    static func tarCommit(_ tarball: String) -> String? {
        let lines = LineCollector()
        let script =
            "case \"$1\" in *.xz|*.txz) xz -dc \"$1\";; *.gz|*.tgz) gzip -dc \"$1\";; "
            + "*.bz2) bzip2 -dc \"$1\";; *) cat \"$1\";; esac | git get-tar-commit-id"
        let status = try? run("/bin/sh", ["-c", script, "sh", tarball], log: nil, onLine: lines.append)
        let commit = lines.lines.first?.lowercased() ?? ""
        return status == 0 && commit.count == 40 && commit.allSatisfy(\.isHexDigit) ? commit : nil
    }

    /// Makes (or reuses) the build tree for `plan` from `source` (a directory holding `src/`).
    public func prepareTree(_ plan: IPXEBuildPlan, source: String) throws -> String {
        let sourceTree = "\(source)/src"
        guard FileManager.default.fileExists(atPath: "\(sourceTree)/Makefile"),
            FileManager.default.fileExists(atPath: "\(sourceTree)/config/general.h")
        else {
            throw BuildError("\(source) is not an iPXE source tree (no src/Makefile and src/config/general.h)")
        }
        let tree = "\(cacheDirectory)/build-\(plan.treeName)"
        if !FileManager.default.fileExists(atPath: "\(tree)/src/Makefile") {
            try? FileManager.default.removeItem(atPath: tree)
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: sourceTree, toPath: "\(tree)/src")
        }
        let local = "\(tree)/src/config/local"
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        for (name, contents) in plan.headers { try Self.writeIfChanged(contents, to: "\(local)/\(name)") }
        // Rewritten only when it changed: make then rebuilds just the embedded image.
        if let script = plan.embeddedScript {
            try Self.writeIfChanged(script, to: "\(tree)/src/\(IPXEBuildPlan.embeddedScriptName)")
        }
        return tree
    }

    /// Runs make for all goals; on failure the error carries the log's last lines and path.
    public func make(_ plan: IPXEBuildPlan, tree: String, progress: @escaping @Sendable (Progress) -> Void) throws {
        let logPath = "\(tree)/build.log"
        let countPath = "\(tree)/build.steps"
        let expected = (try? String(contentsOfFile: countPath, encoding: .utf8)).flatMap { Int($0) }
        var arguments = ["make", "-C", "\(tree)/src", "-j\(jobs)"] + plan.makeGoals
        for (key, value) in plan.makeVariables.sorted(by: { $0.key < $1.key }) { arguments.append("\(key)=\(value)") }
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
            throw BuildError("cannot write the build log \(logPath)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let counter = StepCounter(expected: expected, report: progress)
        let status = try Self.run(
            "/usr/bin/env", arguments, environment: ["SOURCE_DATE_EPOCH": String(plan.sourceDateEpoch)],
            log: log, onLine: counter.line)
        if counter.steps > 0 { try? String(counter.steps).write(toFile: countPath, atomically: true, encoding: .utf8) }
        guard status == 0 else {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            let tail = text.split(separator: "\n").suffix(20).joined(separator: "\n")
            throw BuildError("make failed (exit \(status)); last lines:\n\(tail)\nfull log: \(logPath)")
        }
        Self.settleSharedHeaders(in: "\(tree)/src")
    }

    /// Headers every object includes, which iPXE touches when a BIN directory's option list
    /// (`bin*/.config.list` and friends) is newer than the header.
    static let sharedOptionHeaders = [
        "config/named.h", "include/assert.h", "include/ipxe/profile.h", "include/compiler.h",
    ]
    static let optionLists = [".config.list", ".assert.list", ".profile.list", ".fnrec.list", ".dbgcol.list"]

    /// After a build that succeeded, dates the shared option headers and every BIN directory's
    /// option lists back to the makefiles' time. iPXE writes a BIN directory's lists when make
    /// first enters it and then touches the shared headers, so the BIN directory built last
    /// leaves the headers newer than every object of the ones built before it, and the next make
    /// (a new `--server`, which should only relink) rebuilt those from scratch. Every object was
    /// just compiled against these headers' contents, so nothing is hidden from make: a changed
    /// option still rewrites its list during the next make and rebuilds what it must.
    static func settleSharedHeaders(in source: String) {
        let files = FileManager.default
        let makefiles = ["Makefile", "Makefile.housekeeping", ".echocheck"].map { "\(source)/\($0)" }
        guard
            let settled = makefiles.compactMap({ try? files.attributesOfItem(atPath: $0)[.modificationDate] as? Date })
                .max()
        else { return }
        var paths = sharedOptionHeaders.map { "\(source)/\($0)" }
        for directory in (try? files.contentsOfDirectory(atPath: source)) ?? [] where directory.hasPrefix("bin") {
            paths += optionLists.map { "\(source)/\(directory)/\($0)" }
        }
        for path in paths where files.fileExists(atPath: path) {
            try? files.setAttributes([.modificationDate: settled], ofItemAtPath: path)
        }
    }

    /// Parses iPXE's `  [BUILD] bin/foo.o` lines into steps.
    final class StepCounter: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var steps = 0
        let expected: Int?
        let report: @Sendable (Progress) -> Void

        init(expected: Int?, report: @escaping @Sendable (Progress) -> Void) {
            self.expected = expected
            self.report = report
        }

        func line(_ text: String) {
            let trimmed = text.drop { $0 == " " }
            guard trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") else { return }
            let action = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let file = trimmed[trimmed.index(after: close)...].trimmingCharacters(in: .whitespaces)
            let step = lock.withLock {
                steps += 1
                return steps
            }
            report(Progress(step: step, expectedSteps: expected, action: action, file: file))
        }
    }

    /// Keeps the lines a program printed (`run` hands them over one by one).
    final class LineCollector: @unchecked Sendable {
        private let lock = NSLock()
        private var collected: [String] = []
        func append(_ line: String) { lock.withLock { collected.append(line) } }
        var lines: [String] { lock.withLock { collected } }
    }

    static func writeIfChanged(_ contents: String, to path: String) throws {
        if (try? String(contentsOfFile: path, encoding: .utf8)) == contents { return }
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs a program, teeing its output to `log` and handing each line to `onLine`.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], log: FileHandle?,
        onLine: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        var pending = Data()
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log?.write(chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0A) {
                onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
