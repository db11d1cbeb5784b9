import DHCPv4

/// What a script request gets. Pure: the store runs these inside one transaction per machine,
/// which is what makes `once` atomic across servers sharing a database.
public enum ScriptAction: Hashable, Sendable, CustomStringConvertible {
    /// Render this profile; nil = the machine's script file, else the default script.
    case profile(String?)
    case local
    case shell
    /// Give no boot instructions.
    case hold
    /// The request found the machine by UUID or serial but came with another MAC (nil: none):
    /// nothing of the machine's, only a script that says why (`OtherMACScript`).
    case otherMAC(HardwareAddress?)

    public var description: String {
        switch self {
        case .profile(let name): "profile \(name ?? "(script file)")"
        case .local: "local disk"
        case .shell: "shell"
        case .hold: "hold"
        case .otherMAC(let mac): "refused: \(mac.map { "MAC \($0)" } ?? "no MAC"), not the machine's"
        }
    }
}

public struct ScriptDecision: Hashable, Sendable {
    public var action: ScriptAction
    /// The machine as it must be stored; nil when the fetch changes nothing.
    public var updated: Machine?
    public var reason: String
}

public enum OneShot {
    /// A script fetch for `machine` by a request that came with MAC `asker` (nil: none). Every
    /// LAN host is untrusted and a UUID or serial is easy to learn, so only the machine's own MAC
    /// gets anything of it: its profile with its variables, an install and its token. A request
    /// that found it by UUID or serial alone changes nothing and gets `.otherMAC`, whatever the
    /// next boot (a held machine stays silent to everyone). `newToken` makes the per-install
    /// callback secret.
    public static func fetch(
        _ machine: Machine, askedBy asker: HardwareAddress?, now: Int64, newToken: () -> String
    ) -> ScriptDecision {
        if asker != machine.mac, machine.nextBoot != .hold {
            let reason = asker.map { "asked with MAC \($0), not the machine's" } ?? "asked without a MAC"
            return ScriptDecision(action: .otherMAC(asker), updated: nil, reason: reason)
        }
        switch machine.nextBoot {
        case .profile: return ScriptDecision(action: .profile(machine.profile), updated: nil, reason: "profile")
        case .local: return ScriptDecision(action: .local, updated: nil, reason: "next boot local")
        case .shell: return ScriptDecision(action: .shell, updated: nil, reason: "next boot shell")
        case .hold: return ScriptDecision(action: .hold, updated: nil, reason: "on hold")
        case .once: break
        }
        var updated = machine
        updated.updatedAt = now
        switch machine.onceCompletion {
        case .callback:
            guard machine.onceFetches == 0 else {
                return ScriptDecision(
                    action: .local, updated: nil, reason: "install already handed out, waiting for its callback")
            }
            updated.onceFetches = 1
            updated.onceToken = newToken()
            return ScriptDecision(
                action: .profile(machine.profile), updated: updated, reason: "install handed out (once, until callback)"
            )
        case .fetches(let limit):
            guard machine.onceFetches < limit else {
                // Only reachable if the limit was lowered under a running install.
                updated.nextBoot = .local
                updated.onceFetches = 0
                updated.onceToken = nil
                return ScriptDecision(action: .local, updated: updated, reason: "once: fetch limit reached")
            }
            updated.onceFetches += 1
            if updated.onceToken == nil { updated.onceToken = newToken() }
            var reason = "install fetch \(updated.onceFetches) of \(limit)"
            if updated.onceFetches == limit {
                updated.nextBoot = .local
                updated.onceFetches = 0
                reason += "; next boot local"
            }
            return ScriptDecision(action: .profile(machine.profile), updated: updated, reason: reason)
        }
    }

    public enum CompletionRefusal: Error, Hashable, Sendable, CustomStringConvertible {
        /// The machine is not in `once`.
        case notOnce(NextBoot)
        /// `once`, but no install was handed out yet: an installer cannot have finished.
        case notStarted
        /// Neither the install's token nor the API token.
        case wrongToken

        public var description: String {
            switch self {
            case .notOnce(let state): "machine is not installing (next boot: \(state))"
            case .notStarted: "no install was handed out to this machine yet"
            case .wrongToken: "token does not match this install"
            }
        }
    }

    public enum Completion: Hashable, Sendable {
        /// once → local now.
        case completed(Machine)
        /// Already local (a retried callback): nothing to do.
        case alreadyDone
    }

    /// The installer's callback. `token` is the install's secret from the URL; `authorised` is
    /// true when the request carried the API token (an admin may finish any `once`). Without the
    /// API token nothing is answered but to the install's token, and that token stays on the
    /// machine after the callback (until the next install is scheduled) so an installer that
    /// retries its callback gets `.alreadyDone` again.
    public static func complete(
        _ machine: Machine, token: String?, authorised: Bool, now: Int64
    ) -> Result<Completion, CompletionRefusal> {
        guard authorised || (token != nil && token == machine.onceToken) else {
            return .failure(machine.nextBoot == .once && machine.onceFetches == 0 ? .notStarted : .wrongToken)
        }
        guard machine.nextBoot == .once else {
            return machine.nextBoot == .local ? .success(.alreadyDone) : .failure(.notOnce(machine.nextBoot))
        }
        var updated = machine
        updated.nextBoot = .local
        updated.onceFetches = 0
        updated.updatedAt = now
        return .success(.completed(updated))
    }
}

extension Machine {
    /// Changes the next boot; entering `once` starts a fresh install.
    public mutating func setNextBoot(_ state: NextBoot, completion: OnceCompletion? = nil) {
        nextBoot = state
        if let completion { onceCompletion = completion }
        onceFetches = 0
        onceToken = nil
    }
}
