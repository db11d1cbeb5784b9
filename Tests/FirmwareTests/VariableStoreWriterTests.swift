import Firmware
import Foundation
import Testing

/// The writer against virt-fw-vars doing the same edit (Fixtures/generate.sh): byte for byte.
@Suite("VariableStore writer vs virt-fw-vars")
struct VariableStoreWriterTests {
    static let url = "http://10.0.0.2:8080/ipxe/ipxe.efi"

    /// virt-fw-vars drops the first of the two `525400AA0001` variables of booted-net (it keys
    /// variables by name only); a store written by it lacks this one.
    static let variableVirtFwVarsDrops = (name: "525400AA0001", guid: EFIGUID("5b446ed1-e30b-4faa-871a-3654eca36080")!)

    static func expectIdentical(_ ours: [UInt8], _ fixture: String) throws {
        let theirs = try VariableStoreFixture.varsFile(fixture)
        #expect(ours.count == theirs.count)
        let firstDifference = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(fixture) differs first at 0x\(String(firstDifference ?? 0, radix: 16))")
    }

    @Test func setBootURIOnPristineTemplate() throws {
        var store = try VariableStoreFixture.store("ovmf-vars-4m")
        try store.addBootOption(.uriBoot(Self.url), number: 0x99, placement: .unchanged, bootNext: true)
        try Self.expectIdentical(try store.encoded(), "out-4m-set-boot-uri")
        #expect(try store.loadOption(0x99)?.description == "netboot ipxe.efi")
        #expect(try store.loadOption(0x99)?.filePathList.description == "Uri(\(Self.url))")
        #expect(store.bootNext == 0x99)
        #expect(try store.bootOrder() == nil)
    }

    @Test func setBootURIOnBootedStoreWithNIC() throws {
        var store = try VariableStoreFixture.store("booted-net")
        try store.addBootOption(.uriBoot(Self.url), number: 0x99, placement: .unchanged, bootNext: true)
        let ours = try store.encoded()
        // Not byte-identical as is: virt-fw-vars lost one variable. Without it, identical.
        let removedDroppedVariable = store.delete(
            name: Self.variableVirtFwVarsDrops.name, guid: Self.variableVirtFwVarsDrops.guid)
        #expect(removedDroppedVariable)
        try Self.expectIdentical(try store.encoded(), "out-booted-net-set-boot-uri")
        #expect(ours != (try store.encoded()))
    }

    @Test func appendBootFilePath() throws {
        var store = try VariableStoreFixture.store("booted")
        let number = try #require(store.unusedBootOptionNumber())
        #expect(number == 3)
        let option = EFILoadOption(
            description: "file ipxe.efi",
            filePathList: DevicePath([DevicePathNode(.filePath("\\EFI\\vboot\\ipxe.efi"))]))
        try store.addBootOption(option, number: number, placement: .last)
        try Self.expectIdentical(try store.encoded(), "out-booted-append-filepath")
        #expect(try store.bootOrder()?.entries == [0, 1, 2, 3])
    }

    /// Boot0009 with the full HTTP boot path, first in BootOrder, and BootNext; virt-fw-vars got
    /// the same three variables as JSON built independently in Python (Fixtures/set-boot0009.json).
    @Test func addHTTPBootOptionFirstWithBootNext() throws {
        var store = try VariableStoreFixture.store("booted")
        let option = EFILoadOption.httpBoot(url: Self.url, mac: [0x52, 0x54, 0x00, 0xAA, 0x00, 0x01], pciDevice: 2)
        try store.addBootOption(option, number: 9, placement: .first, bootNext: true)
        try Self.expectIdentical(try store.encoded(), "out-booted-set-boot0009")
        #expect(try store.bootOrder()?.entries == [9, 0, 1, 2])
        #expect(
            option.filePathList.description
                == "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400AA0001,0x1)/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)/Uri(\(Self.url))"
        )
        let json = try VariableStoreFixture.json("set-boot0009.json")
        #expect(VariableStoreFixture.hex(option.encoded()) == json.first { $0.name == "Boot0009" }?.dataHex)
    }

    @Test func deleteTwoBootOptions() throws {
        var store = try VariableStoreFixture.store("booted-net")
        let removedBoot0004 = store.delete(name: "Boot0004", guid: .globalVariable)
        #expect(removedBoot0004)
        let removedBoot0006 = store.delete(name: "Boot0006", guid: .globalVariable)
        #expect(removedBoot0006)
        let removedAgain = store.delete(name: "Boot0006", guid: .globalVariable)
        #expect(!removedAgain)
        let removedDroppedVariable = store.delete(
            name: Self.variableVirtFwVarsDrops.name, guid: Self.variableVirtFwVarsDrops.guid)
        #expect(removedDroppedVariable)
        try Self.expectIdentical(try store.encoded(), "out-booted-net-delete")
    }

    @Test func deleteAuthenticatedVariable() throws {
        var store = try VariableStoreFixture.store("ovmf-vars-4m-ms")
        let deleted6 = store.delete(name: "dbx", guid: .imageSecurityDatabase)
        #expect(deleted6)
        try Self.expectIdentical(try store.encoded(), "out-4m-ms-delete-dbx")
    }

    /// No edit at all: the compaction (deleted records dropped, sorted by name) matches.
    @Test(arguments: [("booted", "out-booted-rewrite"), ("ovmf-vars-4m-ms", "out-4m-ms-rewrite")])
    func rewriteWithoutChanges(_ input: String, _ output: String) throws {
        let store = try VariableStoreFixture.store(input)
        try Self.expectIdentical(try store.encoded(), output)
    }

    /// EDK2 order instead of virt-fw-vars' order: same variables, re-parsed.
    @Test(arguments: VariableStoreFixture.inputs)
    func storeOrderLayoutRoundTrips(_ name: String) throws {
        let store = try VariableStoreFixture.store(name)
        let rewritten = try VariableStore(parsing: store.encoded(layout: .storeOrder))
        #expect(rewritten.variables == store.variables)
        #expect(rewritten.deletedVariables.isEmpty)
        let sorted = try VariableStore(parsing: store.encoded())
        #expect(Set(sorted.variables) == Set(store.variables))
        // Outside the variable region nothing changes.
        let original = try VariableStoreFixture.varsFile(name)
        let bytes = try store.encoded()
        #expect(bytes[..<store.variablesOffset] == original[..<store.variablesOffset])
        #expect(bytes[store.storeEnd...] == original[store.storeEnd...])
        #expect(
            bytes[(store.variablesOffset + store.encodedVariables().count)..<store.storeEnd].allSatisfy { $0 == 0xFF })
    }

    @Test func overflowSaysByHowMuch() throws {
        var store = try VariableStoreFixture.store("ovmf-vars-2m")
        let available = store.storeEnd - store.variablesOffset  // 0xDF9C
        // One record: 60-byte header + "Big\0" (8) + data, padded to 4.
        try store.set(
            name: "Big", guid: .globalVariable, attributes: .bootVariable,
            data: [UInt8](repeating: 1, count: available - 68 + 4))
        #expect(throws: VariableStoreError.storeFull(needed: available + 4, available: available)) {
            try store.encoded()
        }
        #expect(
            VariableStoreError.storeFull(needed: available + 4, available: available).description.contains(
                "4 bytes too many"))
        try store.set(
            name: "Big", guid: .globalVariable, attributes: .bootVariable,
            data: [UInt8](repeating: 1, count: available - 68))
        #expect(try VariableStore(parsing: store.encoded()).variables.count == 1)
    }

    @Test func setReplacesInPlaceAndKeepsAuthenticationFields() throws {
        var store = try VariableStoreFixture.store("ovmf-vars-4m-ms")
        let before = try #require(store.variable(named: "PK", guid: .globalVariable))
        try store.set(name: "PK", guid: .globalVariable, attributes: before.attributes, data: [1, 2, 3])
        let after = try #require(store.variable(named: "PK", guid: .globalVariable))
        #expect(after.data == [1, 2, 3])
        #expect(after.timeStamp == before.timeStamp && after.monotonicCount == before.monotonicCount)
        #expect(
            store.variables.firstIndex(of: after)
                == (try VariableStoreFixture.store("ovmf-vars-4m-ms")).variables.firstIndex(of: before))
        #expect(throws: VariableStoreError.invalidName("")) {
            try store.set(name: "", guid: .globalVariable, attributes: [], data: [])
        }
        #expect(throws: VariableStoreError.invalidName("A\u{0}B")) {
            try store.set(name: "A\u{0}B", guid: .globalVariable, attributes: [], data: [])
        }
    }

    @Test func writeGoesThroughTempFileAndRename() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-vars-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("VARS.fd").path
        try Data(VariableStoreFixture.varsFile("booted")).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        var store = try VariableStore(contentsOf: path)
        try store.addBootOption(.uriBoot(Self.url), number: 0x99, placement: .first)
        try store.write(to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["VARS.fd"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let reread = try VariableStore(contentsOf: path)
        #expect(try reread.bootOrder()?.entries.first == 0x99)
        #expect(reread.variables.count == store.variables.count)
    }
}
