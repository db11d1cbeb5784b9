import Testing

@testable import VBootServer

@Suite("Shipped files beside the binary")
struct ShippedFilesTests {
    @Test func installedBinaryFindsItsShareDirectory() {
        #expect(
            ShippedFiles.installedDirectory("boot-scripts", executable: "/usr/bin/vboot")
                == "/usr/share/vboot/boot-scripts")
        #expect(
            ShippedFiles.installedDirectory("ipxe", executable: "/usr/local/bin/vboot") == "/usr/local/share/vboot/ipxe"
        )
    }

    /// A build tree's binary (.build/debug/vboot) has no share directory: the checkout's ./NAME is used.
    @Test func binaryOutsideABinDirectoryHasNone() {
        #expect(ShippedFiles.installedDirectory("boot-scripts", executable: "/work/.build/debug/vboot") == nil)
    }
}
