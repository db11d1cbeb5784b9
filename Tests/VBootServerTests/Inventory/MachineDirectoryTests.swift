import BootPolicy
import DHCPv4
import Foundation
import Testing

@testable import VBootServer

@Suite("Machine directory")
struct MachineDirectoryTests {
    static let a = HardwareAddress("52:54:00:00:00:0a")!
    static let b = HardwareAddress("52:54:00:00:00:0b")!

    @Test func selectorsFindTheMachineInTheStoresOrder() {
        let directory = MachineDirectory()
        directory.update(Machine(mac: Self.a, uuid: "AAAA-1", serial: "S1", hostname: "Alpha", updatedAt: 1))
        directory.update(Machine(mac: Self.b, uuid: "bbbb-2", serial: "S2", updatedAt: 1))
        #expect(directory.machine(matching: MachineSelector(mac: Self.a))?.mac == Self.a)
        #expect(directory.machine(matching: MachineSelector(uuid: "aaaa-1"))?.mac == Self.a)
        #expect(directory.machine(matching: MachineSelector(serial: "S2"))?.mac == Self.b)
        #expect(directory.machine(matching: MachineSelector(hostname: "ALPHA"))?.mac == Self.a)
        // An unknown MAC with a known UUID: the UUID names the machine (as in the store).
        let other = HardwareAddress("52:54:00:00:00:0c")!
        #expect(directory.machine(matching: MachineSelector(mac: other, uuid: "bbbb-2"))?.mac == Self.b)
        #expect(directory.machine(matching: MachineSelector(mac: other, serial: "nope")) == nil)
    }

    @Test func changedAndRemovedMachinesLeaveNoStaleIndex() {
        let directory = MachineDirectory()
        directory.update(Machine(mac: Self.a, uuid: "aaaa-1", serial: "S1", updatedAt: 1))
        directory.update(Machine(mac: Self.a, uuid: "aaaa-9", updatedAt: 2))
        #expect(directory.machine(matching: MachineSelector(uuid: "aaaa-1")) == nil)
        #expect(directory.machine(matching: MachineSelector(serial: "S1")) == nil)
        #expect(directory.machine(matching: MachineSelector(uuid: "aaaa-9"))?.mac == Self.a)
        directory.remove(Self.a)
        #expect(directory.machine(matching: MachineSelector(uuid: "aaaa-9")) == nil)
        #expect(directory.entry(for: Self.a) == nil)
    }

    /// Two store updates finishing out of order: the directory keeps the newer one.
    @Test func anOlderUpdateArrivingLateIsIgnored() {
        let directory = MachineDirectory()
        directory.update(Machine(mac: Self.a, nextBoot: .local, updatedAt: 20))
        directory.update(Machine(mac: Self.a, nextBoot: .once, updatedAt: 10))
        #expect(directory.entry(for: Self.a)?.nextBoot == .local)
    }

    /// A refresh read from the store before a local change must not put the old state back.
    @Test func aRefreshReadBeforeALocalChangeIsDropped() {
        let directory = MachineDirectory()
        directory.replaceAll(with: [Machine(mac: Self.a, nextBoot: .local, updatedAt: 1)], readAfter: 0)
        let before = directory.generation
        directory.update(Machine(mac: Self.a, nextBoot: .once, updatedAt: 2))
        #expect(!directory.replaceAll(with: [Machine(mac: Self.a, nextBoot: .local, updatedAt: 1)], readAfter: before))
        #expect(directory.entry(for: Self.a)?.nextBoot == .once)
        // The next refresh, read after the change, applies (it also drops what the store no longer has).
        #expect(directory.replaceAll(with: [], readAfter: directory.generation))
        #expect(directory.count == 0)
    }
}
