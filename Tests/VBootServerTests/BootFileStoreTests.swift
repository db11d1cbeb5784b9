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
