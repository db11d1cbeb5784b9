import DHCPv4

/// What a request gets for `ScriptAction.otherMAC`: an iPXE script that says why this boot gets
/// no instructions and what the admin does, then hands the boot to the firmware's next entry.
/// It holds nothing of the machine (not its variables, token, hostname or MAC: the MAC is what
/// a request has to know), only what the request itself sent.
public enum OtherMACScript {
    public static func render(asker: HardwareAddress?, matchedBy selector: String) -> String {
        // The selector is the machine's UUID or serial as the request sent it; the sanitizer keeps
        // it to characters that cannot end an iPXE command.
        let named = BootScriptContext.sanitize(selector)
        let came = asker.map { "came with MAC \($0.hyphenated)" } ?? "came with no MAC"
        let newMAC = asker.map(\.hyphenated) ?? "NEW-MAC"
        return """
            #!ipxe
            echo
            echo vboot: this machine (\(named)) is in vboot's inventory under
            echo vboot: another MAC address, and this request \(came).
            echo vboot: A machine's script, variables and installs go only to its own MAC,
            echo vboot: so this boot gets none of them (the refusal is on its timeline).
            echo vboot: If its network card was replaced, an admin registers the new MAC:
            echo vboot:   vboot machines show \(named)    (note its profile and variables)
            echo vboot:   vboot machines rm \(named)
            echo vboot:   vboot machines add \(newMAC) with the same fields
            echo vboot: booting from the next boot device in 30 s
            sleep 30 ||
            # Read by vboot's ROM script: this exit is a local boot, not a failed fetch.
            set vboot-local 1
            exit 1

            """
    }
}

extension MachineSelector {
    /// Which of the selector's fields names `machine`, as `vboot machines` takes it
    /// (`uuid:…`, `serial:…`, `hostname:…`); nil when only the MAC does, or nothing.
    public func identifier(of machine: Machine) -> String? {
        if let uuid, uuid == machine.uuid?.lowercased() { return "uuid:\(uuid)" }
        if let serial, serial == machine.serial { return "serial:\(serial)" }
        if let hostname, hostname == machine.hostname?.lowercased() { return "hostname:\(hostname)" }
        return nil
    }
}
