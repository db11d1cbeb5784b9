import BootPolicy
import DHCPv4
import Foundation
import VBootStore

/// `GET /boot.ipxe`, and GRUB's `vboot/grub/<mac>.cfg` over TFTP: the inventory decides
/// (atomically, for `once`), then a template renders for the loader that asked.
extension Inventory {
    struct ScriptRequest: Sendable {
        var mac: HardwareAddress?
        var query: [String: String]
        /// `http://host:port` as the client reached us.
        var serverURL: String
        var address: IPv4Address?
        /// Who asked: iPXE (a script) or GRUB (a configuration).
        var loader: BootLoader = .ipxe
    }

    enum ScriptResult: Sendable {
        case script(text: String, summary: String)
        /// No boot instructions for this machine (hold, or unknown under `ignore`).
        case refused(reason: String)
        /// A script that only says why this request gets nothing of the machine it named by
        /// UUID or serial (another MAC, or none); a refusal on the timeline.
        case explained(text: String, reason: String)
    }

    func script(for request: ScriptRequest, scripts: BootScriptSource) async throws -> ScriptResult {
        if let mac = request.mac, let address = request.address { addresses.learn(address, is: mac) }
        let selector = MachineSelector(mac: request.mac, uuid: request.query["uuid"], serial: request.query["serial"])
        let context = BootScriptContext(
            mac: request.mac?.hyphenated ?? "unknown", serverURL: request.serverURL, query: request.query,
            bootToken: request.mac.map { bootTokens.issue(mac: $0) })
        if request.loader == .grub,
            let reason = try await unbootableByGRUB(selector, request: request, context: context)
        {
            recorder.record(
                .script, .refused, mac: request.mac, address: request.address, known: true,
                summary: "GRUB configuration: \(reason)", details: ["reason": "not renderable for GRUB"])
            return refusedForGRUB(reason)
        }
        let outcome: (machine: Machine, decision: ScriptDecision)?
        if selector.isEmpty { outcome = nil } else { outcome = try await fetch(selector) }
        let result: ScriptResult
        let details: [String: String]
        if let (machine, decision) = outcome {
            details = ["action": decision.action.description, "reason": decision.reason]
            result = try render(
                decision, for: machine, selector: selector, context: context, request: request, scripts: scripts)
        } else {
            details = ["unknown": live.current.unknownMachines.rawValue]
            result = try await unknown(request, selector: selector, context: context, scripts: scripts)
        }
        let what = request.loader == .grub ? "GRUB configuration: " : ""
        switch result {
        case .script(_, let summary):
            recorder.record(
                .script, .ok, mac: outcome?.machine.mac ?? request.mac, address: request.address,
                known: outcome != nil, summary: what + summary, details: details)
        case .refused(let reason), .explained(_, let reason):
            recorder.record(
                .script, .refused, mac: outcome?.machine.mac ?? request.mac, address: request.address,
                known: outcome != nil, summary: what + reason, details: details)
        }
        return result
    }

    /// Finds the machine and applies `OneShot.fetch` in one store transaction. When this server
    /// is the store's only writer, the directory answers, and only a fetch that changes the
    /// machine (a one-shot install starting or counting down) goes to the store. A machine found
    /// by UUID or serial under another MAC never changes, so that fetch takes no row lock either.
    private func fetch(_ selector: MachineSelector) async throws -> (Machine, ScriptDecision)? {
        let asker = selector.mac
        let found: Machine
        if store.isShared {
            guard let stored = try await store.machine(selector) else { return nil }
            if stored.mac != asker {
                let decision = OneShot.fetch(
                    stored, askedBy: asker, now: WallClock.microsecondsNow(), newToken: Inventory.newToken)
                return (stored, decision)
            }
            found = stored
        } else {
            guard let known = directory.machine(matching: selector) else { return nil }
            let decision = OneShot.fetch(
                known, askedBy: asker, now: WallClock.microsecondsNow(), newToken: Inventory.newToken)
            if decision.updated == nil { return (known, decision) }
            found = known
        }
        let outcome = try await store.update(mac: found.mac) { machine -> (Machine?, (Machine, ScriptDecision)) in
            let decision = OneShot.fetch(
                machine, askedBy: asker, now: WallClock.microsecondsNow(), newToken: Inventory.newToken)
            return (decision.updated, (decision.updated ?? machine, decision))
        }
        if let (machine, decision) = outcome, decision.updated != nil { directory.update(machine) }
        return outcome
    }

    private func render(
        _ decision: ScriptDecision, for machine: Machine, selector: MachineSelector, context: BootScriptContext,
        request: ScriptRequest, scripts: BootScriptSource
    ) throws -> ScriptResult {
        let plan = ScriptPlan.known(
            decision, for: machine, askedBy: request.mac, selector: selector, serverURL: request.serverURL)
        switch plan {
        case .refused(let reason):
            return .refused(reason: reason)
        case .explained(let text, let reason, let warning):
            logger.warning("inventory: \(warning)")
            return .explained(text: text, reason: reason)
        case .render where request.loader == .grub && decision.action == .local:
            return .script(
                text: GRUBRendering.local(mac: machine.mac.hyphenated), summary: "local (\(decision.reason))")
        case .render where request.loader == .grub && decision.action == .shell:
            return .script(
                text: GRUBRendering.shell(mac: machine.mac.hyphenated), summary: "shell (\(decision.reason))")
        case .render(.none, _) where request.loader == .grub:
            return refusedForGRUB(Self.noProfileForGRUB(machine.mac))
        case .render(.none, let callback):
            // The machine's own script file, else the default, with its variables.
            let rendered = try scripts.render(
                for: machine.mac,
                context: context.merging(
                    machine: machine, siteVariables: live.current.siteVariables, callbackURL: callback))
            return .script(text: rendered.text, summary: "\(rendered.source) (\(decision.reason))")
        case .render(let profileName?, let callback):
            let compiled = try profiles.compiled(named: profileName)
            let values = context.merging(
                machine: machine, profileDefaults: compiled.profile.defaults,
                siteVariables: live.current.siteVariables, callbackURL: callback)
            let summary = "profile \(profileName) (\(decision.reason))"
            guard request.loader == .grub else { return .script(text: compiled.ipxeScript(values), summary: summary) }
            switch compiled.grubConfig(values) {
            case .success(let text): return .script(text: text, summary: summary)
            case .failure(let refusal): return refusedForGRUB(refusal.description)
            }
        }
    }

    /// Why GRUB cannot boot the install this fetch would hand out, found before the fetch is
    /// committed: a one-shot install GRUB cannot start must not count as handed out (the machine
    /// would wait in `local` for a callback that never comes). Nil when the fetch may go ahead.
    private func unbootableByGRUB(
        _ selector: MachineSelector, request: ScriptRequest, context: BootScriptContext
    ) async throws -> String? {
        let found = store.isShared ? try await store.machine(selector) : directory.machine(matching: selector)
        guard let machine = found, machine.nextBoot == .once else { return nil }
        let dryRun = OneShot.fetch(machine, askedBy: request.mac, now: WallClock.microsecondsNow(), newToken: { "" })
        guard case .profile(let name) = dryRun.action, dryRun.updated != nil else { return nil }
        guard let name else { return Self.noProfileForGRUB(machine.mac) }
        let compiled = try profiles.compiled(named: name)
        let values = context.merging(
            machine: machine, profileDefaults: compiled.profile.defaults,
            siteVariables: live.current.siteVariables, callbackURL: "\(request.serverURL)/")
        if case .failure(let refusal) = compiled.grubConfig(values) { return refusal.description }
        return nil
    }

    static func noProfileForGRUB(_ mac: HardwareAddress) -> String {
        "\(mac) has no profile: GRUB (loader grub) needs a declarative one; machines/<mac>.ipxe and default.ipxe are iPXE scripts"
    }

    /// A machine GRUB cannot boot: said in the log and on the timeline, not left to hang.
    private func refusedForGRUB(_ reason: String) -> ScriptResult {
        logger.warning("inventory: \(reason)")
        return .refused(reason: reason)
    }

    private func unknown(
        _ request: ScriptRequest, selector: MachineSelector, context: BootScriptContext, scripts: BootScriptSource
    ) async throws -> ScriptResult {
        let plan = ScriptPlan.unknown(mac: request.mac, policy: live.current.unknownMachines) {
            request.mac.map { scripts.hasMachineScript(for: $0) } ?? false
        }
        switch plan {
        case .refused(let reason):
            return .refused(reason: reason)
        case .registerAndRender:
            if let mac = request.mac, mayRegister(source: request.address) {
                try await register(Machine.registered(mac: mac, uuid: selector.uuid, serial: selector.serial))
            }
        case .render:
            break
        }
        if request.loader == .grub {
            return refusedForGRUB(
                "\(request.mac?.description ?? "a machine") is not in the inventory: GRUB (loader grub) boots only machines with a declarative profile"
            )
        }
        let rendered = try scripts.render(
            for: request.mac, context: context.merging(machine: nil, siteVariables: live.current.siteVariables))
        return .script(text: rendered.text, summary: "\(rendered.source) (not in the inventory)")
    }

    private func register(_ machine: Machine) async throws {
        do {
            try await insert(machine, by: "registration")
        } catch StoreError.exists(let what) {
            // Another server registered it first, or its UUID/serial belongs to another record.
            logger.info("inventory: not registering \(machine.mac): \(what) is taken")
        }
    }

    /// 128 random bits, hex: the per-install callback secret.
    @Sendable static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let value = generator.next() as UInt32
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }
}
