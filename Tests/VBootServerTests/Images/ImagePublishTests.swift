import Foundation
import Testing

@testable import VBootServer

/// How `vboot image build` puts an image in place and cleans up after an interrupted one.
@Suite("Diskless images: publishing")
struct ImagePublishTests {
    static func directory(_ files: [String: String], at path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name)) }
    }

    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// One exchange: the name never goes missing, and the old kernel is never beside the new root.
    @Test func aNewImageTakesTheOldOnesPlaceInOneStep() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-publish-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let out = root + "/images/lab", staging = root + "/images/.lab.building-1"
        try Self.directory(["vmlinuz": "new kernel", "filesystem.squashfs": "new root"], at: staging)
        try ImageBuilder.publish(staging, as: out)
        #expect(Self.read(out + "/vmlinuz") == "new kernel")
        #expect(!FileManager.default.fileExists(atPath: staging))

        try Self.directory(["vmlinuz": "newer kernel", "filesystem.squashfs": "newer root"], at: staging)
        try ImageBuilder.publish(staging, as: out)
        #expect(Self.read(out + "/vmlinuz") == "newer kernel")
        #expect(Self.read(out + "/filesystem.squashfs") == "newer root")
        // The old image, under the staging name, for the builder to remove.
        #expect(Self.read(staging + "/vmlinuz") == "new kernel")
    }

    @Test func mountPointsAreReadFromMountinfoWithTheirEscapes() {
        let mountinfo = """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
            40 22 0:5 / /var/tmp/vboot-image-lab-Ab12/root/proc rw - proc proc rw
            41 22 0:6 / /srv/with\\040space rw - tmpfs tmpfs rw
            """
        #expect(
            ImageBuilder.mountPoints(inMountinfo: mountinfo) == [
                "/", "/var/tmp/vboot-image-lab-Ab12/root/proc", "/srv/with space",
            ])
    }

    /// A tree with something mounted inside is not removed (the removal would go into the mount).
    @Test func aTreeWithAMountInsideIsNotRemoved() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-leftover-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.directory(["file": "x"], at: root + "/root/proc")
        let mounted = "40 22 0:5 / \(root)/root/proc rw - proc proc rw\n"
        #expect(throws: ImageBuilder.BuildError.self) { try ImageBuilder.remove(root, mountinfo: mounted) }
        #expect(FileManager.default.fileExists(atPath: root + "/root/proc/file"))
        // A mount beside it, whose name only starts the same, does not hold it.
        try ImageBuilder.remove(root, mountinfo: "40 22 0:5 / \(root)-other/proc rw - proc proc rw\n")
        #expect(!FileManager.default.fileExists(atPath: root))
    }
}
