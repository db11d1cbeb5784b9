import DHCPv4
import VBootAPI

/// What `GET /boot.ipxe` answers, decided without I/O: for a machine the inventory found, from
/// its `ScriptDecision`; for one it did not, from the unknown-machines policy. The HTTP side
/// looks up the profile or script file, renders and records what the plan says.
public enum ScriptPlan: Hashable, Sendable {
    /// Render profile `name`; nil: the machine's own script file, else the default script.
    /// `callbackURL` goes only into the script that hands out a one-shot install.
    case render(profile: String?, callbackURL: String?)
    /// No boot instructions; `reason` reaches the client.
    case refused(reason: String)
    /// A script that only says why the request gets nothing of the machine it named by UUID or
    /// serial; `warning` is the server's log line.
    case explained(text: String, reason: String, warning: String)

    /// `serverURL`: `http://host:port` as the client reached the server.
    public static func known(
        _ decision: ScriptDecision, for machine: Machine, askedBy asker: HardwareAddress?,
        selector: MachineSelector, serverURL: String
    ) -> ScriptPlan {
        switch decision.action {
        case .hold:
            // The refusal text reaches the client: only the machine's own MAC may learn its MAC.
            return .refused(reason: machine.mac == asker ? "\(machine.mac) is on hold" : "this machine is on hold")
        case .otherMAC(let asker):
            let found = selector.identifier(of: machine) ?? "its UUID or serial"
            return .explained(
                text: OtherMACScript.render(asker: asker, matchedBy: found),
                reason: "\(decision.reason) (found by \(found))",
                warning:
                    "\(machine.mac) found by \(found) for a request with \(asker.map { "MAC \($0)" } ?? "no MAC"): refused (an install, variables and token go only to its own MAC)"
            )
        case .local: return .render(profile: "local", callbackURL: nil)
        case .shell: return .render(profile: "shell", callbackURL: nil)
        case .profile(let name):
            let callback =
                decision.action == .profile(machine.profile)
                ? machine.onceToken.map {
                    "\(serverURL)\(APIContract.prefix)/machines/\(machine.mac.hyphenated)/done?token=\($0)"
                }
                : nil
            return .render(profile: name, callbackURL: callback)
        }
    }

    /// What a machine the inventory does not know gets.
    public enum Unknown: Hashable, Sendable {
        /// Its script file, else the default script.
        case render
        /// As `render`, after adding it to the inventory (if the registration limit allows).
        case registerAndRender
        case refused(reason: String)
    }

    /// `hasOwnScript` is asked only when the answer matters (a stat per request).
    public static func unknown(
        mac: HardwareAddress?, policy: UnknownMachinePolicy, hasOwnScript: () -> Bool
    ) -> Unknown {
        switch policy {
        case .ignore where !hasOwnScript():
            return .refused(reason: "\(mac?.description ?? "a client without a MAC") is not in the inventory")
        case .register where mac != nil && !hasOwnScript():
            return .registerAndRender
        case .ignore, .register, .script:
            return .render
        }
    }
}
