import Firmware
import Foundation
import Testing

/// The reader against virt-fw-vars' JSON dumps of the same files (Fixtures/README.md).
@Suite("VariableStore reader vs virt-fw-vars")
struct VariableStoreReaderTests {
    @Test(arguments: VariableStoreFixture.inputs)
    func everyVariableMatchesVirtFwVars(_ name: String) throws {
        let store = try VariableStoreFixture.store(name)
        let dumped = try VariableStoreFixture.json("\(name).json")
        // virt-fw-vars keys its list by name alone, so of a name used under two GUIDs it keeps only
        // the record it met last. OVMF's network stack does that: a variable named after the NIC's
        // MAC exists under two GUIDs in booted-net (see VariableStoreWriterTests).
        let names = store.variables.map(\.name)
        let shared = Set(names.filter { name in names.filter { $0 == name }.count > 1 })
        #expect(shared == (name == "booted-net" ? ["525400AA0001"] : []))
        #expect(Set(names).count == dumped.count)
        for expected in dumped {
            let variable = try #require(store.variables.last { $0.name == expected.name }, "\(name): \(expected.name)")
            #expect(variable.guid.description == expected.guid, "\(name): \(expected.name)")
            #expect(variable.attributes.rawValue == expected.attributes, "\(name): \(expected.name)")
            #expect(VariableStoreFixture.hex(variable.data) == expected.dataHex, "\(name): \(expected.name)")
            if let time = expected.timeHex {
                // virt-fw-vars re-encodes EFI_TIME from a datetime: nanoseconds rounded down to
                // microseconds, TimeZone, Daylight and pads written as 0.
                var normalized = variable.timeStamp
                normalized.nanosecond = normalized.nanosecond / 1000 * 1000
                normalized.timeZone = 0
                normalized.daylight = 0
                normalized.pad1 = 0
                normalized.pad2 = 0
                #expect(VariableStoreFixture.hex(normalized.encoded()) == time, "\(name): \(expected.name)")
                #expect(normalized == variable.timeStamp, "\(name): \(expected.name) time was normalized")
            } else {
                #expect(variable.timeStamp.year == 0, "\(name): \(expected.name)")
            }
        }
    }

    @Test func volumeAndStoreHeadersOf4MiBTemplate() throws {
        let bytes = try VariableStoreFixture.varsFile("ovmf-vars-4m")
        let store = try VariableStore(parsing: bytes)
        let volume = store.volumeHeader
        #expect(volume.fileSystemGUID == .systemNVDataFV)
        #expect(volume.fvLength == 0x84000)
        #expect(volume.attributes == 0x0004_FEFF)
        #expect(volume.headerLength == 0x48)
        #expect(volume.checksum == 0xB8AF)
        #expect(volume.revision == FirmwareVolumeHeader.revision2)
        #expect(volume.blockMap == [.init(numBlocks: 0x84, length: 0x1000)])
        #expect(volume.encoded() == Array(bytes[0..<0x48]))
        #expect(store.storeHeader.signature == .authenticatedVariable)
        #expect(store.storeHeader.size == 0x3FFB8)
        #expect(store.storeHeader.encoded() == Array(bytes[0x48..<0x64]))
        #expect(store.variablesOffset == 0x64)
        #expect(store.storeEnd == 0x40000)
        #expect(store.variables.isEmpty && store.records.isEmpty)
    }

    @Test func twoMiBTemplateLayout() throws {
        let store = try VariableStoreFixture.store("ovmf-vars-2m")
        #expect(store.volumeHeader.fvLength == 0x20000)
        #expect(store.storeHeader.size == 0xDFB8)
        #expect(store.storeEnd == 0xE000)
    }

    /// OVMF rewrites variables by appending a new record and marking the old one deleted.
    @Test(arguments: ["ovmf-vars-4m-ms", "booted", "booted-net"])
    func deletedRecordsAreKeptApart(_ name: String) throws {
        let store = try VariableStoreFixture.store(name)
        #expect(!store.deletedVariables.isEmpty)
        #expect(store.records.count == store.variables.count + store.deletedVariables.count)
        for record in store.deletedVariables {
            #expect(record.state != .added && record.state != .addedInDeletedTransition)
        }
        #expect(store.records.filter(\.isLive).map(\.variable) == store.variables)
        let offsets = store.records.map(\.offset)
        #expect(offsets == offsets.sorted() && offsets.allSatisfy { $0 % 4 == 0 })
    }

    @Test func booted4MiBStoreHasTheExpectedDeletedRecords() throws {
        let store = try VariableStoreFixture.store("booted")
        let deletedNames = Set(store.deletedVariables.map(\.variable.name))
        // Rewritten on every boot by OVMF's BDS and memory type tracking.
        #expect(
            deletedNames.contains("MTC") || deletedNames.contains("MemoryTypeInformation")
                || deletedNames.contains("BootOrder"))
        #expect(store.deletedVariables.allSatisfy { $0.state == VariableState(rawValue: 0x3C) })
    }

    @Test func secureBootTemplateTimestampsAndCounts() throws {
        let store = try VariableStoreFixture.store("ovmf-vars-4m-ms")
        let pk = try #require(store.variable(named: "PK", guid: .globalVariable))
        #expect(pk.attributes.contains(.timeBasedAuthenticatedWriteAccess))
        #expect(pk.timeStamp.year == 2025 || pk.timeStamp.year > 2000)
        let db = try #require(store.variable(named: "db", guid: .imageSecurityDatabase))
        #expect(!db.data.isEmpty)
    }
}
