import Foundation
import Testing

@testable import VBootServer

@Suite("boot-file store")
struct BootFileStoreTests {
    @Test(arguments: ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "a\0b", ".", "./"])
    func lexicalRefusals(path: String) {
        guard case .failure(.refused) = BootFileStore.validate(path) else {
            Issue.record("\(path.debugDescription) was not refused")
            return
        }
    }

    @Test func lookups() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let ipxe = root.appendingPathComponent("ipxe"), assets = root.appendingPathComponent("assets")
        try FileManager.default.createDirectory(
            at: assets.appendingPathComponent("d"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: ipxe, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: ipxe.appendingPathComponent("ipxe.efi"))
        try Data([4]).write(to: assets.appendingPathComponent("d/k"))
        try Data([5, 5]).write(to: assets.appendingPathComponent("ipxe.efi"))
        try FileManager.default.createSymbolicLink(
            atPath: assets.appendingPathComponent("inside").path, withDestinationPath: "d/k")
        try FileManager.default.createSymbolicLink(
            atPath: assets.appendingPathComponent("outside").path, withDestinationPath: ipxe.path)
        let store = BootFileStore(ipxeDirectories: [ipxe.path], assetsRoot: assets.path)

        #expect(try store.resolveTFTP("ipxe.efi").get().area == .ipxe, "binary names go to the iPXE directory first")
        #expect(try store.resolveTFTP("ipxe.efi").get().size == 3)
        #expect(try store.resolveTFTP("d/k").get().size == 1)
        #expect(try store.resolveTFTP("d//./k").get().size == 1)
        #expect(try store.resolveTFTP("inside").get().size == 1, "a symlink that stays inside is fine")
        #expect(throws: BootFileStore.LookupError.refused("outside/ipxe.efi leaves the assets root")) {
            try store.resolveTFTP("outside/ipxe.efi").get()
        }
        #expect(throws: BootFileStore.LookupError.notFound("d")) { try store.resolveTFTP("d").get() }
        #expect(store.installedBinaries() == ["ipxe.efi": ipxe.appendingPathComponent("ipxe.efi").path])
    }

    /// Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi.
    @Test func ipxeDirectorySymlinksMayLeaveIt() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let ipxe = root.appendingPathComponent("lib"), boot = root.appendingPathComponent("boot")
        try FileManager.default.createDirectory(at: ipxe, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: boot, withIntermediateDirectories: true)
        try Data([9, 9]).write(to: boot.appendingPathComponent("ipxe.efi"))
        try FileManager.default.createSymbolicLink(
            atPath: ipxe.appendingPathComponent("ipxe.efi").path, withDestinationPath: "../boot/ipxe.efi")
        let store = BootFileStore(ipxeDirectories: [ipxe.path], assetsRoot: nil)
        #expect(try store.resolveTFTP("ipxe.efi").get().size == 2)
        #expect(try store.resolve(.ipxe, "ipxe.efi").get().area == .ipxe)
        #expect(throws: BootFileStore.LookupError.self) { try store.resolve(.ipxe, "../boot/ipxe.efi").get() }
    }
}

extension BootFileStoreTests {
    /// Issue 11: the iPXE directories give out binary names and what a `vboot rom build` manifest
    /// lists in its own directory; nothing else, not even a "refused" that says it exists.
    @Test func ipxeDirectoriesServeOnlyKnownNames() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let rom = root.appendingPathComponent("rom"), boot = root.appendingPathComponent("boot")
        for directory in [rom, boot] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        try Data([1]).write(to: boot.appendingPathComponent("ipxe.efi"))
        try Data([2]).write(to: boot.appendingPathComponent("initrd.img"))
        try Data([3]).write(to: boot.appendingPathComponent("e1000.rom"))
        try FileManager.default.createSymbolicLink(
            atPath: boot.appendingPathComponent("secret.efi").path, withDestinationPath: "/etc/hostname")
        try Data([4]).write(to: rom.appendingPathComponent("e1000.rom"))
        try Data([5]).write(to: rom.appendingPathComponent("other.rom"))
        let manifest =
            #"{"files": [{"name": "e1000.rom", "size": 1, "sha256": "x"}, {"name": "../boot/initrd.img", "size": 1, "sha256": "x"}, {"name": "initrd.img", "size": 1, "sha256": "x"}]}"#
        try Data(manifest.utf8).write(to: rom.appendingPathComponent("manifest.json"))
        let store = BootFileStore(ipxeDirectories: [rom.path, boot.path], assetsRoot: nil)

        #expect(try store.resolve(.ipxe, "ipxe.efi").get().size == 1)
        #expect(try store.resolve(.ipxe, "e1000.rom").get().size == 1)
        #expect(try store.resolve(.ipxe, "e1000.rom").get().path.hasSuffix("/rom/e1000.rom"))
        for name in [
            "initrd.img", "secret.efi", "other.rom", "manifest.json", "../boot/initrd.img", "/etc/hostname", "",
            "ipxe.efi/",
        ] {
            #expect(throws: BootFileStore.LookupError.notFound(name), "\(name)") {
                try store.resolve(.ipxe, name).get()
            }
        }
        // A ROM name is served only from the directory whose manifest lists it.
        let bootOnly = BootFileStore(ipxeDirectories: [boot.path], assetsRoot: nil)
        #expect(throws: BootFileStore.LookupError.notFound("e1000.rom")) {
            try bootOnly.resolve(.ipxe, "e1000.rom").get()
        }
        // A manifest that does not parse lists nothing.
        try Data("{not json".utf8).write(to: rom.appendingPathComponent("manifest.json"))
        #expect(throws: BootFileStore.LookupError.notFound("e1000.rom")) { try store.resolve(.ipxe, "e1000.rom").get() }
    }
}

@Suite("Range header (RFC 9110 §14.2)")
struct ByteRangeTests {
    @Test(
        arguments: [
            (nil, ByteRange.whole),
            ("bytes=0-9", .partial(0...9)),
            ("bytes=5-", .partial(5...99)),
            ("bytes=-10", .partial(90...99)),
            ("bytes=-500", .partial(0...99)),
            ("bytes=90-200", .partial(90...99)),
            ("bytes=100-", .unsatisfiable),
            ("bytes=0-1,5-6", .whole),
            ("items=0-1", .whole),
            ("bytes=9-3", .unsatisfiable),
        ] as [(String?, ByteRange)])
    func parse(header: String?, expected: ByteRange) {
        #expect(ByteRange.parse(header, size: 100) == expected)
    }
}
