import BootPolicy
import DHCPv4
import Testing

/// What `GET /boot.ipxe` renders, from the one-shot decision or the unknown-machines policy.
@Suite("Script plans")
struct ScriptPlanTests {
    static let mac = HardwareAddress("52:54:00:aa:00:01")!
    static let server = "http://10.77.0.2:8080"

    static func plan(_ machine: Machine, askedBy asker: HardwareAddress? = mac) -> ScriptPlan {
        let decision = OneShot.fetch(machine, askedBy: asker, now: 5) { "secret" }
        return ScriptPlan.known(
            decision, for: decision.updated ?? machine, askedBy: asker,
            selector: MachineSelector(mac: asker, uuid: machine.uuid), serverURL: server)
    }

    @Test func aOneShotInstallCarriesItsCallbackURL() {
        let machine = Machine(mac: Self.mac, profile: "debian", nextBoot: .once)
        #expect(
            Self.plan(machine)
                == .render(
                    profile: "debian",
                    callbackURL: "http://10.77.0.2:8080/api/v1/machines/52-54-00-aa-00-01/done?token=secret"))
    }

    @Test func steadyStatesRenderTheirProfileWithoutACallback() {
        #expect(Self.plan(Machine(mac: Self.mac, profile: "debian")) == .render(profile: "debian", callbackURL: nil))
        #expect(Self.plan(Machine(mac: Self.mac)) == .render(profile: nil, callbackURL: nil))
        #expect(Self.plan(Machine(mac: Self.mac, nextBoot: .local)) == .render(profile: "local", callbackURL: nil))
        #expect(Self.plan(Machine(mac: Self.mac, nextBoot: .shell)) == .render(profile: "shell", callbackURL: nil))
    }

    /// Only the machine's own MAC may learn its MAC from the refusal.
    @Test func holdTellsOnlyItsOwnMACWhichMachineItIs() {
        let machine = Machine(mac: Self.mac, nextBoot: .hold)
        #expect(Self.plan(machine) == .refused(reason: "52:54:00:aa:00:01 is on hold"))
        #expect(Self.plan(machine, askedBy: nil) == .refused(reason: "this machine is on hold"))
    }

    @Test func foundByUUIDUnderAnotherMACIsExplainedAndWarned() {
        let machine = Machine(mac: Self.mac, uuid: "8c3f1a52-0000-4000-8000-000000000001", profile: "debian")
        let other = HardwareAddress("52:54:00:aa:00:09")!
        guard case .explained(let text, let reason, let warning) = Self.plan(machine, askedBy: other) else {
            Issue.record("expected an explanation")
            return
        }
        #expect(!text.contains("debian") && !text.contains("52:54:00:aa:00:01"))
        #expect(reason.contains("found by"))
        #expect(warning.hasPrefix("52:54:00:aa:00:01 found by") && warning.contains("MAC 52:54:00:aa:00:09"))
    }

    @Test func unknownMachinesFollowThePolicy() {
        var asked = 0
        let noScript = { () -> Bool in
            asked += 1
            return false
        }
        #expect(ScriptPlan.unknown(mac: Self.mac, policy: .script, hasOwnScript: noScript) == .render)
        #expect(asked == 0, "under `script` no file is looked up")
        #expect(ScriptPlan.unknown(mac: Self.mac, policy: .register, hasOwnScript: noScript) == .registerAndRender)
        #expect(ScriptPlan.unknown(mac: nil, policy: .register, hasOwnScript: noScript) == .render)
        #expect(
            ScriptPlan.unknown(mac: Self.mac, policy: .ignore, hasOwnScript: noScript)
                == .refused(reason: "52:54:00:aa:00:01 is not in the inventory"))
        #expect(ScriptPlan.unknown(mac: Self.mac, policy: .ignore, hasOwnScript: { true }) == .render)
        #expect(ScriptPlan.unknown(mac: Self.mac, policy: .register, hasOwnScript: { true }) == .render)
    }
}
