import Foundation
import Testing

@testable import Firmware

/// Inputs an admin's tools pass on, written as the attacks: a path with a comma that would add
/// QEMU options, a domain XML nested deep enough to blow the stack, a `--ref` that was ignored,
/// an edited file that changed owner.
@Suite("Firmware tools against hostile inputs")
struct FirmwareInputAttackTests {
    @Test func commasInPathsAndNamesCannotAddQEMUOptions() {
        var guest = QEMUGuest(vars: "/tmp/vm,file=/etc/shadow")
        guest.rom = "/tmp/a,romfile=/etc/passwd"
        guest.ovmfCode = "/x,readonly=off"
        guest.network = .tap("tap0,script=/tmp/evil")
        let arguments = guest.arguments
        // QEMU reads ",," inside an option value as one literal comma.
        #expect(arguments.contains("if=pflash,format=raw,unit=1,file=/tmp/vm,,file=/etc/shadow"))
        #expect(arguments.contains("if=pflash,format=raw,unit=0,readonly=on,file=/x,,readonly=off"))
        #expect(arguments.contains { $0.contains("romfile=/tmp/a,,romfile=/etc/passwd,") })
        #expect(arguments.contains("tap,id=net0,ifname=tap0,,script=/tmp/evil,script=no,downscript=no"))
        #expect(!arguments.contains { $0.contains(",file=/etc/shadow") && !$0.contains(",,file=/etc/shadow") })
    }

    @Test func deeplyNestedDomainXMLIsRefusedNotACrash() {
        let depth = 200_000
        let xml = String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth)
        #expect {
            _ = try LibvirtXML(parsing: xml)
        } throws: { error in
            "\(error)".contains("nested deeper than \(LibvirtXML.maximumDepth)")
        }
        // The limit is far above what libvirt writes.
        let fine = String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64)
        #expect(throws: Never.self) { _ = try LibvirtXML(parsing: fine) }
    }

    @Test func refIsTheCommitThatIsCheckedOut() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ipxe-ref-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: "\(work)/upstream/src", withIntermediateDirectories: true)
        let script = """
            cd "$1/upstream" && git init -q && echo 'all:' > src/Makefile && git add -A && \
            git -c user.name=t -c user.email=t@example.invalid commit -qm one && git tag v1 && \
            echo '# two' >> src/Makefile && git -c user.name=t -c user.email=t@example.invalid commit -qam two && \
            git rev-parse v1 HEAD
            """
        let lines = IPXEBuilder.LineCollector()
        try #require(
            try IPXEBuilder.run("/bin/sh", ["-c", script, "sh", work], log: nil, onLine: lines.append) == 0)
        let (tagged, head) = (lines.lines[0], lines.lines[1])
        let lock = IPXELock(url: "\(work)/upstream", commit: head, tag: nil, epoch: nil)
        let builder = IPXEBuilder(cacheDirectory: "\(work)/cache")
        #expect(IPXEBuildJob.gitCommit(of: try builder.fetchSource(lock, ref: "v1")) == tagged)
        #expect(IPXEBuildJob.gitCommit(of: try builder.fetchSource(lock)) == head)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give the file another owner"))
    func anEditedFileKeepsItsOwnerAndMode() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("owned-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        // As QEMU run by libvirt owns a guest's VARS file.
        try #require(chown(path, 65534, 65534) == 0 && chmod(path, 0o600) == 0)
        try AtomicFile.write(Data("new".utf8), to: path)
        var info = stat()
        try #require(stat(path, &info) == 0)
        #expect(info.st_uid == 65534 && info.st_gid == 65534)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(FileManager.default.contents(atPath: path) == Data("new".utf8))
    }
}
