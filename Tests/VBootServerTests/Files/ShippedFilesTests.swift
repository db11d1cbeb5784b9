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

    /// The checkout's copy first (tests run in the package root), and nothing for a missing file
    /// rather than a path that does not exist.
    @Test func shippedFileContentsFromTheFirstCandidateThatHasIt() throws {
        #expect(ShippedFiles.candidates("ipxe/embed.ipxe").first == "./ipxe/embed.ipxe")
        #expect(ShippedFiles.contents("ipxe/embed.ipxe")?.hasPrefix("#!ipxe\n") == true)
        #expect(ShippedFiles.contents("ipxe/no-such-file.ipxe") == nil)
    }

    /// A build tree's binary (.build/debug/vboot) has no share directory: the checkout's ./NAME is used.
    @Test func binaryOutsideABinDirectoryHasNone() {
        #expect(ShippedFiles.installedDirectory("boot-scripts", executable: "/work/.build/debug/vboot") == nil)
    }
}
