import DHCPv4
import Testing

@testable import BootPolicy

@Suite("autoexec.ipxe")
struct IPXEAutoexecTests {
    @Test func theTemplateGetsTheServerWithoutATrailingSlash() {
        let autoexec = IPXEAutoexec(template: "#!ipxe\nset vboot-server {{server}}\nchain {{server}}/boot.ipxe\n")
        let expected = "#!ipxe\nset vboot-server http://10.0.0.2:8080\nchain http://10.0.0.2:8080/boot.ipxe\n"
        #expect(autoexec.script(server: "http://10.0.0.2:8080") == expected)
        #expect(autoexec.script(server: "http://10.0.0.2:8080/") == expected)
        #expect(IPXEAutoexec(template: nil).script(server: "http://10.0.0.2:8080") == nil)
        #expect(autoexec.script(reachedAt: IPv4Address(10, 0, 0, 2), httpPort: 8080) == expected)
        #expect(autoexec.script(reachedAt: .any, httpPort: 8080) == nil)
    }

    @Test func theNamesIPXEAsksFor() {
        #expect(IPXEAutoexec.isTFTPName("autoexec.ipxe"))
        #expect(IPXEAutoexec.isTFTPName("/autoexec.ipxe"))
        #expect(!IPXEAutoexec.isTFTPName("x86_64/autoexec.ipxe"))
        #expect(!IPXEAutoexec.isTFTPName("autoexec.ipxe.bak"))
        #expect(IPXEAutoexec.httpPaths == ["/autoexec.ipxe", "/ipxe/autoexec.ipxe"])
    }
}
