import BootPolicy
import DHCPv4
import Testing

@Suite("shim and GRUB chain")
struct GRUBChainTests {
    @Test(arguments: [
        "/debian-installer/amd64/grub/grub.cfg", "debian-installer/amd64/grub/grub.cfg", "/grub/grub.cfg",
        "grub/grub.cfg",
    ])
    func grubsFirstConfigurationIsTheBootstrap(name: String) {
        #expect(GRUBChain.isBootstrapName(name))
    }

    @Test(arguments: [
        "/debian-installer/amd64/grub/x86_64-efi/grub.cfg", "grub.cfg", "/vboot/grub/grub.cfg", "grub/grub.cfg.bak",
        "/debian-installer/amd64/grub/x86_64-efi/command.lst",
    ])
    func otherNamesAreNot(name: String) {
        #expect(!GRUBChain.isBootstrapName(name))
    }

    /// `source`, not `configfile`: the machine's configuration runs in the bootstrap's context,
    /// so its prompt flag (next boot shell) keeps the bootstrap from returning to the firmware.
    @Test func theBootstrapSendsGRUBToTheMachinesOwnConfiguration() {
        #expect(GRUBChain.bootstrap.contains("source /vboot/grub/${net_default_mac}.cfg"))
        #expect(GRUBChain.bootstrap.contains("if [ \"$vboot_prompt\" != 1 ]; then"))
        #expect(GRUBChain.bootstrap.contains("exit 1"))
        #expect(GRUBRendering.shell(mac: "m").contains("set vboot_prompt=1\n"))
        #expect(!GRUBRendering.local(mac: "m").contains("vboot_prompt"))
    }

    @Test func machineConfigNamesCarryTheMAC() {
        let mac = HardwareAddress("52:54:00:12:34:56")
        #expect(GRUBChain.machineConfigMAC("/vboot/grub/52:54:00:12:34:56.cfg") == mac)
        #expect(GRUBChain.machineConfigMAC("vboot/grub/52-54-00-12-34-56.cfg") == mac)
        #expect(GRUBChain.machineConfigMAC("/vboot/grub/not-a-mac.cfg") == nil)
        #expect(GRUBChain.machineConfigMAC("/vboot/grub/x/52:54:00:12:34:56.cfg") == nil)
        #expect(GRUBChain.machineConfigMAC("/vboot/grub/52:54:00:12:34:56") == nil)
    }

    @Test func shimsByArchitecture() {
        #expect(GRUBChain.select(for: .efiX86_64, available: ["bootnetx64.efi", "grubx64.efi"]) == "bootnetx64.efi")
        #expect(GRUBChain.select(for: .efiX86_64, available: ["bootnetx64.efi", "shimx64.efi"]) == "shimx64.efi")
        #expect(GRUBChain.select(for: .efiARM64, available: ["bootnetaa64.efi"]) == "bootnetaa64.efi")
        #expect(GRUBChain.select(for: .x86BIOS, available: ["bootnetx64.efi"]) == nil)
    }

    @Test func renderingsForNextBootStatesEndSafely() {
        #expect(GRUBRendering.local(mac: "m").contains("exit 1"))
        #expect(GRUBRendering.refusal("x'; reboot").contains("echo 'vboot: x'\\''; reboot; returning"))
    }
}
