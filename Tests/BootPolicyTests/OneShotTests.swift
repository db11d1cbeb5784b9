import BootPolicy
import DHCPv4
import Testing

@Suite("One-shot installs")
struct OneShotTests {
    static let mac = HardwareAddress("52:54:00:aa:00:01")!

    @Test(arguments: [
        (NextBoot.profile, ScriptAction.profile("debian")), (.local, .local), (.shell, .shell), (.hold, .hold),
    ])
    func steadyStatesNeverChange(state: NextBoot, action: ScriptAction) {
        let machine = Machine(mac: Self.mac, profile: "debian", nextBoot: state)
        let decision = OneShot.fetch(machine, askedBy: machine.mac, now: 1) { "t" }
        #expect(decision.action == action && decision.updated == nil)
    }

    @Test func callbackModeHandsOutOnceThenBootsLocallyUntilTheCallback() throws {
        var machine = Machine(mac: Self.mac, profile: "debian", nextBoot: .once)
        let first = OneShot.fetch(machine, askedBy: machine.mac, now: 5) { "secret" }
        #expect(first.action == .profile("debian"))
        machine = try #require(first.updated)
        #expect(machine.nextBoot == .once && machine.onceFetches == 1 && machine.onceToken == "secret")
        #expect(machine.updatedAt == 5)
        let second = OneShot.fetch(machine, askedBy: machine.mac, now: 6) { "other" }
        #expect(second.action == .local && second.updated == nil)

        #expect(OneShot.complete(machine, token: "wrong", authorised: false, now: 7) == .failure(.wrongToken))
        #expect(OneShot.complete(machine, token: nil, authorised: false, now: 7) == .failure(.wrongToken))
        guard
            case .success(.completed(let done)) = OneShot.complete(machine, token: "secret", authorised: false, now: 8)
        else {
            Issue.record("callback with the install's token must complete")
            return
        }
        // The spent token stays, so the installer's retried callback succeeds again; nobody
        // else learns that the machine finished (or exists).
        #expect(done.nextBoot == .local && done.onceToken == "secret" && done.onceFetches == 0)
        #expect(OneShot.complete(done, token: "secret", authorised: false, now: 9) == .success(.alreadyDone))
        #expect(OneShot.complete(done, token: "wrong", authorised: false, now: 9) == .failure(.wrongToken))
        #expect(OneShot.complete(done, token: nil, authorised: false, now: 9) == .failure(.wrongToken))
        #expect(OneShot.complete(done, token: nil, authorised: true, now: 9) == .success(.alreadyDone))
        // Scheduling the next install forgets it.
        var again = done
        again.setNextBoot(.once)
        #expect(OneShot.complete(again, token: "secret", authorised: false, now: 10) == .failure(.notStarted))
    }

    @Test func adminMayFinishAnyOnceButAnInstallerNotBeforeItStarted() {
        let fresh = Machine(mac: Self.mac, nextBoot: .once)
        #expect(OneShot.complete(fresh, token: "x", authorised: false, now: 1) == .failure(.notStarted))
        guard case .success(.completed) = OneShot.complete(fresh, token: nil, authorised: true, now: 1) else {
            Issue.record("the API token finishes an install")
            return
        }
        let profile = Machine(mac: Self.mac, nextBoot: .profile)
        #expect(OneShot.complete(profile, token: nil, authorised: true, now: 1) == .failure(.notOnce(.profile)))
    }

    @Test func fetchLimitCountsDownToLocal() throws {
        var machine = Machine(mac: Self.mac, profile: "p", nextBoot: .once, onceCompletion: .fetches(3))
        var actions: [ScriptAction] = []
        for now in 1...4 {
            let decision = OneShot.fetch(machine, askedBy: machine.mac, now: Int64(now)) { "t" }
            actions.append(decision.action)
            if let updated = decision.updated { machine = updated }
        }
        #expect(actions == [.profile("p"), .profile("p"), .profile("p"), .local])
        #expect(machine.nextBoot == .local)
    }

    /// Issue 11: a request that found the machine by UUID or serial, with another MAC or none,
    /// gets nothing of it and changes nothing, whatever its next boot; a held machine stays silent.
    @Test(arguments: [HardwareAddress("52:54:00:bb:00:01"), nil])
    func anotherMACGetsNothingAndChangesNothing(asker: HardwareAddress?) {
        for state in NextBoot.allCases {
            let machine = Machine(
                mac: Self.mac, serial: "SN-1", profile: "debian", variables: ["root_password": "x"], nextBoot: state)
            let decision = OneShot.fetch(machine, askedBy: asker, now: 1) { "t" }
            #expect(decision.updated == nil, "\(state)")
            #expect(decision.action == (state == .hold ? .hold : .otherMAC(asker)), "\(state)")
        }
        let started = Machine(
            mac: Self.mac, nextBoot: .once, onceCompletion: .fetches(2), onceFetches: 1, onceToken: "t")
        #expect(OneShot.fetch(started, askedBy: asker, now: 1) { "u" }.updated == nil)
    }

    @Test func otherMACScriptHoldsOnlyWhatTheRequestSent() {
        let machine = Machine(
            mac: Self.mac, uuid: "4c4c4544-0000-1000-8000-0000000000aa", serial: "SN-1\nchain http://evil/",
            hostname: "node1")
        let bySerial = MachineSelector(mac: HardwareAddress("52:54:00:bb:00:01"), serial: "SN-1\nchain http://evil/")
        #expect(bySerial.identifier(of: machine) == "serial:SN-1\nchain http://evil/")
        #expect(
            MachineSelector(uuid: "4C4C4544-0000-1000-8000-0000000000AA").identifier(of: machine)
                == "uuid:4c4c4544-0000-1000-8000-0000000000aa")
        #expect(MachineSelector(mac: Self.mac).identifier(of: machine) == nil)
        let script = OtherMACScript.render(asker: bySerial.mac, matchedBy: bySerial.identifier(of: machine)!)
        #expect(script.hasPrefix("#!ipxe\n") && script.contains("vboot machines add 52-54-00-bb-00-01"))
        #expect(script.contains("serial:SN-1chain_http://evil/"), "one word: the newline is gone, the space is _")
        #expect(!script.contains("52-54-00-aa-00-01") && !script.contains("node1"))
        #expect(script.hasSuffix("set vboot-local 1\nexit 1\n"))
        #expect(OtherMACScript.render(asker: nil, matchedBy: "uuid:x").contains("came with no MAC"))
    }

    @Test func enteringOnceStartsAFreshInstall() {
        var machine = Machine(mac: Self.mac, nextBoot: .once, onceFetches: 1, onceToken: "old")
        machine.setNextBoot(.once, completion: .fetches(2))
        #expect(machine.onceFetches == 0 && machine.onceToken == nil && machine.onceCompletion == .fetches(2))
    }

    @Test(arguments: ["callback", "fetches:1", "fetches:12"])
    func completionRoundTrips(text: String) {
        #expect(OnceCompletion(text)?.description == text)
    }

    @Test(arguments: ["", "fetches:0", "fetches:-1", "fetches:", "Callback", "fetches:x"])
    func badCompletionsAreRejected(text: String) {
        #expect(OnceCompletion(text) == nil)
    }
}

@Suite("Profile headers")
struct ProfileHeaderTests {
    @Test func titleAndVariablesWithDefaultsAndDescriptions() throws {
        let profile = try Profile(
            name: "x",
            source: """
                #!ipxe
                #: title  Debian netboot
                #: var mirror = http://deb.debian.org/debian -- package mirror
                #: var preseed_url -- optional preseed
                #: var empty =
                echo {{mirror}}
                """)
        #expect(profile.title == "Debian netboot")
        #expect(profile.variables.map(\.name) == ["mirror", "preseed_url", "empty"])
        #expect(profile.variables[0].defaultValue == "http://deb.debian.org/debian")
        #expect(profile.variables[0].description == "package mirror")
        #expect(profile.variables[1].defaultValue == nil && profile.variables[2].defaultValue == "")
        #expect(profile.defaults == ["mirror": "http://deb.debian.org/debian", "empty": ""])
    }

    @Test(arguments: [
        ("#: var 9x = 1", "line 2: \"9x\" is not a variable name"), ("#: titel x", "line 2: unknown header \"titel\""),
    ])
    func badHeadersNameTheLine(line: String, message: String) {
        #expect(throws: Profile.HeaderError.self) { try Profile(name: "p", source: "#!ipxe\n\(line)\n") }
        do {
            _ = try Profile(name: "p", source: "#!ipxe\n\(line)\n")
        } catch {
            #expect(error.description.contains(message))
        }
    }

    @Test func precedenceDefaultsSiteMachineBuiltIns() {
        let machine = Machine(
            mac: OneShotTests.mac, hostname: "node1", variables: ["suite": "trixie", "mac": "spoofed"])
        let context = BootScriptContext(mac: "52-54-00-aa-00-01", serverURL: "http://s", query: [:]).merging(
            machine: machine, profileDefaults: ["suite": "bookworm", "mirror": "m1", "arch": "amd64"],
            siteVariables: ["mirror": "m2"], callbackURL: "http://s/done")
        #expect(context.values["suite"] == "trixie")
        #expect(context.values["mirror"] == "m2")
        #expect(context.values["mac"] == "52-54-00-aa-00-01")
        #expect(context.values["hostname"] == "node1")
        #expect(context.values["done_url"] == "http://s/done")
        // iPXE sent no arch: the profile's default stays.
        #expect(context.values["arch"] == "amd64")
    }
}
