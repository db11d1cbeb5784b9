import BootPolicy
import DHCPv4
import Testing

/// A machine's variables on the kernel line and back.
@Suite("machine variables as kernel arguments")
struct MachineArgumentsTests {
    @Test func anyValueIsOneWordAndComesBackByteForByte() {
        let variables = ["seat": "B-12", "motd": "Hello lab's 100% \\ ✓", "url": "http://10.0.0.2:8080/x?a=b&c"]
        let words = MachineArguments.words(variables)
        #expect(words.split(separator: " ").count == 3)
        #expect(words.hasPrefix("vboot.motd=Hello%20lab%27s%20100%25%20%5C%20%E2%9C%93 "))
        #expect(words.contains("vboot.seat=B-12"))
        #expect(MachineArguments.parse("BOOT_IMAGE=/vmlinuz quiet " + words + " console=ttyS0") == variables)
    }

    @Test func badNamesEmptyValuesAndTheOverflowAreLeftOut() {
        #expect(MachineArguments.words(["bad-name": "x", "a b": "y", "empty": ""]) == "")
        let many = Dictionary(
            uniqueKeysWithValues: (0..<100).map { (String(format: "v%03d", $0), String(repeating: "x", count: 20)) })
        let words = MachineArguments.words(many)
        #expect(words.utf8.count <= MachineArguments.limit)
        #expect(words.hasPrefix("vboot.v000="))
        #expect(MachineArguments.parse("vboot.x=%zz vboot.y=%4 vboot.-=1") == [:])
    }

    @Test func theProfileSeesTheSiteAndMachineVariablesNotItsOwnDefaults() throws {
        let machine = Machine(
            mac: try #require(HardwareAddress("52:54:00:12:34:56")), variables: ["seat": "B-12", "room": "own"])
        let context = BootScriptContext(mac: "52-54-00-12-34-56", serverURL: "http://s", query: [:])
            .merging(machine: machine, profileDefaults: ["image": "lab"], siteVariables: ["room": "site", "lab": "3"])
        #expect(context.values["vboot_vars"] == "vboot.lab=3 vboot.room=own vboot.seat=B-12")
    }
}
