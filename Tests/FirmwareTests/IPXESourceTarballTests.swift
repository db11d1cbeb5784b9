import Foundation
import Testing

@testable import Firmware

/// `vboot rom build --source FILE.tar.xz`: a `git archive` tarball unpacks once per commit, and
/// the commit comes from the archive's header, not from the path it was unpacked to.
@Suite("iPXE source tarball")
struct IPXESourceTarballTests {
    /// A tiny repository shaped like iPXE's (src/Makefile, src/config/general.h), archived.
    static func makeArchive(in work: String, gitArchive: Bool) throws -> (tarball: String, commit: String?) {
        let repo = "\(work)/repo"
        try FileManager.default.createDirectory(atPath: "\(repo)/src/config", withIntermediateDirectories: true)
        try "all:\n".write(toFile: "\(repo)/src/Makefile", atomically: true, encoding: .utf8)
        try "/* general */\n".write(toFile: "\(repo)/src/config/general.h", atomically: true, encoding: .utf8)
        let tarball = "\(work)/ipxe-test.tar.xz"
        let script: String
        if gitArchive {
            script = """
                cd "$1" && git init -q && git add -A && \
                git -c user.name=t -c user.email=t@example.invalid commit -qm t && \
                git archive --prefix=ipxe-test/ HEAD | xz > "$2" && git rev-parse HEAD
                """
        } else {
            script = "cd \"$1/..\" && mv repo ipxe-test && tar -cJf \"$2\" ipxe-test"
        }
        let lines = IPXEBuilder.LineCollector()
        let status = try IPXEBuilder.run(
            "/bin/sh", ["-c", script, "sh", repo, tarball], log: nil, onLine: lines.append)
        try #require(status == 0, "making the archive failed")
        return (tarball, gitArchive ? lines.lines.last : nil)
    }

    static func workDirectory() throws -> String {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ipxe-tar-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        return work
    }

    @Test func gitArchiveUnpacksOncePerCommit() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (tarball, commit) = try Self.makeArchive(in: work, gitArchive: true)
        let expected = try #require(commit)
        let builder = IPXEBuilder(cacheDirectory: "\(work)/cache")
        let first = try builder.unpackSource(tarball)
        #expect(first.commit == expected)
        #expect(first.directory == "\(work)/cache/source-\(expected.prefix(12))")
        #expect(FileManager.default.fileExists(atPath: "\(first.directory)/src/config/general.h"))
        // Marked: a second call must reuse the tree, not unpack over it.
        try "kept\n".write(toFile: "\(first.directory)/marker", atomically: true, encoding: .utf8)
        let second = try builder.unpackSource(tarball)
        #expect(second.directory == first.directory)
        #expect(FileManager.default.fileExists(atPath: "\(second.directory)/marker"))
    }

    @Test func aPlainTarballIsKeyedByItsContent() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (tarball, _) = try Self.makeArchive(in: work, gitArchive: false)
        let unpacked = try IPXEBuilder(cacheDirectory: "\(work)/cache").unpackSource(tarball)
        #expect(unpacked.commit == nil)
        #expect(unpacked.directory.hasPrefix("\(work)/cache/source-tar-"))
        #expect(FileManager.default.fileExists(atPath: "\(unpacked.directory)/src/Makefile"))
    }

    @Test func aTarballWithoutAnIPXETreeIsRefused() throws {
        let work = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: "\(work)/x/y", withIntermediateDirectories: true)
        let status = try IPXEBuilder.run("/bin/sh", ["-c", "cd \"$1\" && tar -cJf t.tar.xz x", "sh", work], log: nil)
        try #require(status == 0)
        #expect {
            try IPXEBuilder(cacheDirectory: "\(work)/cache").unpackSource("\(work)/t.tar.xz")
        } throws: { error in
            "\(error)".contains("holds no iPXE tree")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "\(work)/cache")) ?? []
        #expect(left.isEmpty, "no partial tree is left: \(left)")
    }
}
