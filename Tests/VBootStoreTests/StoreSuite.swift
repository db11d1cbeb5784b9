import BootPolicy
import DHCPv4
import Testing
import VBootStore

let macA = HardwareAddress("52:54:00:aa:00:01")!
let macB = HardwareAddress("52:54:00:aa:00:02")!

@Suite("Inventory store (SQLite and PostgreSQL)")
struct StoreSuite {
    @Test(arguments: StoreBackend.available)
    func insertAndFindBySelectors(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            try await store.insert(
                Machine(
                    mac: macA, uuid: "4c4c4544-0000-1000-8000-00000000000a", serial: "SN-1", hostname: "node1",
                    profile: "debian", variables: ["suite": "trixie", "kernel_args": "quiet"]))
            let byMAC = try #require(try await store.machine(MachineSelector(mac: macA)))
            #expect(byMAC.profile == "debian")
            #expect(byMAC.variables == ["suite": "trixie", "kernel_args": "quiet"])
            #expect(byMAC.createdAt > 0 && byMAC.createdAt == byMAC.updatedAt)
            // A replaced NIC: unknown MAC, known UUID.
            let byUUID = try await store.machine(
                MachineSelector(mac: macB, uuid: "4C4C4544-0000-1000-8000-00000000000A"))
            #expect(byUUID?.mac == macA)
            #expect(try await store.machine(MachineSelector(serial: "SN-1"))?.mac == macA)
            #expect(try await store.machine(MachineSelector(hostname: "NODE1"))?.mac == macA)
            #expect(try await store.machine(MachineSelector(mac: macB)) == nil)
            // Firmware placeholders select nothing.
            #expect(MachineSelector(serial: "To Be Filled By O.E.M.").isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func duplicatesAreRefusedByName(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            try await store.insert(Machine(mac: macA, serial: "SN-1"))
            await #expect(throws: StoreError.exists("mac \(macA)")) { try await store.insert(Machine(mac: macA)) }
            await #expect(throws: StoreError.exists("serial SN-1")) {
                try await store.insert(Machine(mac: macB, serial: "SN-1"))
            }
            #expect(try await store.machines().map(\.mac) == [macA])
        }
    }

    @Test(arguments: StoreBackend.available)
    func updateWritesBackAndDeleteRemoves(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            try await store.insert(Machine(mac: macA, nextBoot: .profile))
            let before = try #require(try await store.machine(MachineSelector(mac: macA)))
            let result = try await store.update(mac: macA) { machine -> (Machine?, String) in
                var changed = machine
                changed.setNextBoot(.once, completion: .fetches(2))
                changed.variables["x"] = "1"
                return (changed, "changed")
            }
            #expect(result == "changed")
            let after = try #require(try await store.machine(MachineSelector(mac: macA)))
            #expect(after.nextBoot == .once && after.onceCompletion == .fetches(2) && after.variables == ["x": "1"])
            #expect(after.updatedAt >= before.updatedAt && after.createdAt == before.createdAt)
            #expect(try await store.update(mac: macB) { ($0, 1) } == nil)
            #expect(try await store.delete(mac: macA))
            #expect(!(try await store.delete(mac: macA)))
            #expect(try await store.machines().isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func migrateIsIdempotent(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, factory in
            try await store.insert(Machine(mac: macA))
            let again = try await store.migrate()
            #expect(again.applied.isEmpty && again.from == again.to && again.to > 0)
            #expect(again.description == "schema \(again.to), up to date")
            let second = try await factory.open()
            #expect(try await second.migrate().applied.isEmpty)
            #expect(try await second.machines().map(\.mac) == [macA])
            try await second.close()
        }
    }

    /// The atomicity requirement, inside one process: 40 concurrent fetches of one `once`
    /// machine hand out exactly one install, and the 10 among them that ask with another MAC
    /// (found by UUID or serial) neither get it nor use it up.
    @Test(arguments: StoreBackend.available)
    func concurrentFetchesHandOutOneInstall(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, factory in
            try await store.insert(Machine(mac: macA, profile: "debian", nextBoot: .once))
            let second = try await factory.concurrentPeer(of: store)
            let actions = try await withThrowingTaskGroup(of: ScriptAction?.self) { group in
                for index in 0..<40 {
                    let target = index.isMultiple(of: 2) ? store : second
                    group.addTask {
                        try await target.update(mac: macA) { machine in
                            let asker = index % 4 == 3 ? macB : macA
                            let decision = OneShot.fetch(machine, askedBy: asker, now: WallClock.microsecondsNow()) {
                                "token-\(index)"
                            }
                            return (decision.updated, decision.action)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            if second !== store { try await second.close() }
            #expect(actions.count == 40)
            #expect(actions.filter { $0 == .profile("debian") }.count == 1)
            #expect(actions.filter { $0 == .local }.count == 29)
            #expect(actions.filter { $0 == .otherMAC(macB) }.count == 10)
            let machine = try #require(try await store.machine(MachineSelector(mac: macA)))
            #expect(machine.nextBoot == .once && machine.onceFetches == 1 && machine.onceToken != nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func timelineIsNewestFirstPagedAndPruned(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            var events: [BootEvent] = []
            for index in 0..<30 {
                events.append(
                    BootEvent(
                        mac: index.isMultiple(of: 3) ? macB : macA, address: "10.0.0.\(index)", at: Int64(1000 + index),
                        kind: .tftp, outcome: index == 7 ? .aborted : .ok, summary: "event \(index)",
                        details: ["file": "ipxe.efi", "bytes": "\(index * 100)"], server: "s1"))
            }
            events.append(BootEvent(mac: nil, at: 5, kind: .dhcp, outcome: .refused, summary: "no mac"))
            try await store.record(events)
            let all = try await store.timeline(mac: nil, limit: 100, before: nil)
            #expect(all.count == 31)
            #expect(all.first?.summary == "no mac")
            let forA = try await store.timeline(mac: macA, limit: 5, before: nil)
            #expect(forA.map(\.summary) == ["event 29", "event 28", "event 26", "event 25", "event 23"])
            #expect(forA[0].details == ["file": "ipxe.efi", "bytes": "2900"] && forA[0].address == "10.0.0.29")
            let page = try await store.timeline(mac: macA, limit: 2, before: forA[4].id)
            #expect(page.map(\.summary) == ["event 22", "event 20"])
            #expect(try await store.timeline(mac: macA, limit: 50, before: nil).contains { $0.outcome == .aborted })
            // Keep 4 per MAC and nothing older than at=1002.
            let removed = try await store.pruneTimeline(perMachine: 4, olderThan: 1002)
            let left = try await store.timeline(mac: nil, limit: 100, before: nil)
            #expect(removed == 31 - left.count)
            #expect(left.filter { $0.mac == macA }.count == 4)
            #expect(left.filter { $0.mac == macB }.count == 4)
            #expect(left.filter { $0.mac == nil }.isEmpty)
        }
    }

    /// The live feed's reads: what came after an id, oldest first, and each machine's newest event.
    @Test(arguments: StoreBackend.available)
    func timelineAfterAnIdIsOldestFirstAndLatestIsOnePerMachine(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            var events: [BootEvent] = []
            for index in 0..<10 {
                events.append(
                    BootEvent(
                        mac: index.isMultiple(of: 2) ? macA : macB, at: Int64(1000 + index), kind: .tftp, outcome: .ok,
                        summary: "event \(index)"))
            }
            events.append(BootEvent(mac: nil, at: 2000, kind: .dhcp, outcome: .refused, summary: "no mac"))
            // A change to the record is not where its boot stands.
            events.append(BootEvent(mac: macA, at: 2001, kind: .change, outcome: .ok, summary: "changed"))
            try await store.record(events)
            let all = try await store.timeline(after: 0, limit: 100)
            #expect(all.map(\.summary) == (0..<10).map { "event \($0)" } + ["no mac", "changed"])
            let rest = try await store.timeline(after: all[6].id, limit: 3)
            #expect(rest.map(\.summary) == ["event 7", "event 8", "event 9"])
            #expect(try await store.timeline(after: all[11].id, limit: 3).isEmpty)
            let latest = try await store.latestEvents()
            #expect(latest.map(\.summary) == ["event 8", "event 9"])
            #expect(latest.map(\.mac) == [macA, macB])
        }
    }

    /// Pruning more than one batch (1,000 rows a statement): the newest N per machine stay,
    /// everything older than the cutoff goes, whichever machine it belongs to.
    @Test(arguments: StoreBackend.available)
    func pruningInBatchesKeepsTheNewestPerMachineAndTheDays(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let flood = (0..<2600).map {
                BootEvent(mac: macA, at: Int64(10_000 + $0), kind: .dhcp, outcome: .ok, summary: "a \($0)")
            }
            let old = (0..<1500).map {
                BootEvent(mac: macB, at: Int64($0), kind: .dhcp, outcome: .ok, summary: "b \($0)")
            }
            try await store.record(old + flood)
            let removed = try await store.pruneTimeline(perMachine: 1100, olderThan: 1200)
            #expect(removed == 1200 + 1500)
            let forA = try await store.timeline(mac: macA, limit: 5000, before: nil)
            #expect(forA.count == 1100 && forA.first?.summary == "a 2599" && forA.last?.summary == "a 1500")
            let forB = try await store.timeline(mac: macB, limit: 5000, before: nil)
            #expect(forB.count == 300 && forB.last?.summary == "b 1200")
            #expect(try await store.pruneTimeline(perMachine: 1100, olderThan: 1200) == 0)
        }
    }

    @Test(arguments: StoreBackend.available)
    func manyEventsInOneCall(_ backend: StoreBackend) async throws {
        try await backend.withStore { store, _ in
            let events = (0..<2500).map {
                BootEvent(mac: macA, at: Int64($0), kind: .asset, outcome: .ok, summary: "\($0)")
            }
            try await store.record(events)
            let newest = try await store.timeline(mac: macA, limit: 1, before: nil)
            #expect(newest.first?.summary == "2499")
            #expect(try await store.timeline(mac: macA, limit: 5000, before: nil).count == 2500)
        }
    }
}
