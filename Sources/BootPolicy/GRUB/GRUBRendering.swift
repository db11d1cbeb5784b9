/// The GRUB configurations vboot writes that are not a profile's kernel: next boot `local` and
/// `shell`, a refusal, a profile that exists only as an iPXE script.
public enum GRUBRendering {
    /// Said, shown for 30 s, then back to the firmware (`exit 1`): it boots the next entry in its
    /// boot order, as iPXE's `exit 1` does for `local`.
    static func failed(_ why: String) -> [String] {
        [
            GRUBScript.command("echo", ["vboot: \(why); returning to the firmware in 30 s"]),
            "sleep 30",
            "exit 1",
        ]
    }

    /// Next boot `local`: GRUB cannot start a disk's loader either; it exits with a failure
    /// status and the firmware boots its next entry (the disk, with network boot first).
    public static func local(mac: String) -> String {
        [
            "# vboot: next boot local, rendered for GRUB",
            GRUBScript.command("echo", ["vboot: \(mac) boots from its local disk: returning to the firmware"]),
            "exit 1",
            "",
        ].joined(separator: "\n")
    }

    /// Next boot `shell`: there is no iPXE under GRUB; the configuration ends and GRUB shows its
    /// own prompt (the flag keeps the bootstrap from returning to the firmware).
    public static func shell(mac: String) -> String {
        [
            "# vboot: next boot shell, rendered for GRUB",
            "set \(GRUBChain.promptVariable)=1",
            GRUBScript.command(
                "echo", ["vboot: shell for \(mac): GRUB's command line (there is no iPXE shell under GRUB)"]),
            "",
        ].joined(separator: "\n")
    }

    /// Nothing to boot, with the reason on the machine's screen.
    public static func refusal(_ reason: String) -> String {
        (["# vboot: no boot for this machine"] + failed(reason) + [""]).joined(separator: "\n")
    }
}
