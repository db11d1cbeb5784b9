import Firmware
import Foundation
import Testing

/// Hand-built stores for the cases OVMF's files do not show: plain (non-authenticated) format,
/// interrupted replacements, malformed headers.
@Suite("VariableStore synthetic stores")
struct VariableStoreSyntheticTests {
    static let blockSize: UInt32 = 0x1000

    /// A 16 KiB volume: FV header (checksummed), store header, `records` (already aligned), 0xFF.
    static func image(
        store signature: EFIGUID = .variable, storeSize: UInt32 = 0x3000, records: [UInt8] = []
    ) -> [UInt8] {
        var header: [UInt8] = [UInt8](repeating: 0, count: 16) + EFIGUID.systemNVDataFV.bytes
        ByteCursor.append(UInt64(4 * blockSize), to: &header)
        ByteCursor.append(FirmwareVolumeHeader.signature, to: &header)
        ByteCursor.append(UInt32(0x0004_FEFF), to: &header)
        ByteCursor.append(UInt16(0x48), to: &header)
        ByteCursor.append(UInt16(0), to: &header)  // checksum, fixed below
        ByteCursor.append(UInt16(0), to: &header)
        header += [0, FirmwareVolumeHeader.revision2]
        for value: UInt32 in [4, blockSize, 0, 0] { ByteCursor.append(value, to: &header) }
        let checksum = 0 &- FirmwareVolumeHeader.checksum16(header[...])
        ByteCursor.put(checksum, into: &header, at: 50)
        var bytes = header + signature.bytes
        ByteCursor.append(storeSize, to: &bytes)
        bytes += [VariableStoreHeader.formatted, VariableStoreHeader.healthy, 0, 0, 0, 0, 0, 0]
        bytes += records
        return bytes + [UInt8](repeating: 0xFF, count: Int(4 * blockSize) - bytes.count)
    }

    static func record(_ name: String, _ data: [UInt8], state: VariableState, authenticated: Bool = false) -> [UInt8] {
        VariableRecord.encoded(
            EFIVariable(name: name, guid: .globalVariable, attributes: .bootVariable, data: data), state: state,
            authenticated: authenticated)
    }

    @Test func plainFormatRoundTrips() throws {
        let bytes = Self.image(
            records: Self.record("Timeout", [5, 0], state: .added)
                + Self.record("Lang", Array("eng".utf8), state: .added))
        var store = try VariableStore(parsing: bytes)
        #expect(!store.isAuthenticated)
        #expect(store.variables.map(\.name) == ["Timeout", "Lang"])
        // 32 + 16 + 2 = 50 bytes, so the next record starts at the next 4-byte boundary.
        #expect(store.records.map(\.offset) == [0x64, 0x64 + 52])
        #expect(try store.encoded(layout: .storeOrder) == bytes)
        try store.set(name: "BootNext", guid: .globalVariable, attributes: .bootVariable, data: [9, 0])
        let reread = try VariableStore(parsing: store.encoded())
        #expect(reread.variables.map(\.name) == ["BootNext", "Lang", "Timeout"])
        #expect(reread.bootNext == 9)
    }

    /// VariableParsing.c FindVariableEx: VAR_ADDED wins over VAR_ADDED&VAR_IN_DELETED_TRANSITION;
    /// alone, the in-transition record is still the variable.
    @Test func inDeletedTransitionRules() throws {
        let records: [(String, [UInt8], VariableState)] = [
            ("A", [1], .addedInDeletedTransition), ("A", [2], .added), ("B", [3], .addedInDeletedTransition),
            ("C", [4], VariableState(rawValue: 0x3F & 0xFE & 0xFD)), ("D", [5], .headerValidOnly), ("E", [6], .deleted),
        ]
        let bytes = records.flatMap { Self.record($0.0, $0.1, state: $0.2, authenticated: true) }
        let store = try VariableStore(parsing: Self.image(store: .authenticatedVariable, records: bytes))
        #expect(store.variables.map(\.name) == ["A", "B"])
        #expect(store.variables.map(\.data) == [[2], [3]])
        #expect(store.deletedVariables.map(\.variable.name) == ["A", "C", "D", "E"])
        let rewritten = try VariableStore(parsing: store.encoded())
        #expect(rewritten.records.allSatisfy { $0.state == .added })
    }

    @Test func errorsNameFieldAndOffset() throws {
        var bytes = Self.image()
        bytes[40] = 0x00
        #expect(
            throws: VariableStoreError.badValue(
                field: "FV.Signature", offset: 40, detail: "0x48564600, expected \"_FVH\"")
        ) {
            try VariableStore(parsing: bytes)
        }
        bytes = Self.image()
        bytes[0x2C] ^= 1  // Attributes
        #expect(throws: VariableStoreError.self) { try VariableStore(parsing: bytes) }
        do {
            _ = try VariableStore(parsing: bytes)
        } catch {
            guard case .badValue(let field, let offset, _) = error else { Issue.record("\(error)"); return }
            #expect(field == "FV.Checksum" && offset == 50)
        }
        bytes = Self.image(store: .globalVariable)
        #expect(
            throws: VariableStoreError.badValue(
                field: "VariableStore.Signature", offset: 0x48,
                detail: "unknown store GUID 8be4df61-93ca-11d2-aa0d-00e098032b8c")
        ) {
            try VariableStore(parsing: bytes)
        }
        bytes = Self.image(storeSize: 0x5000)
        #expect(
            throws: VariableStoreError.badValue(
                field: "VariableStore.Size", offset: 0x58, detail: "store ends at 0x5048, past the volume or file")
        ) {
            try VariableStore(parsing: bytes)
        }
        // A record whose DataSize runs past the store end.
        var record = Self.record("X", [1], state: .added)
        ByteCursor.put(UInt32(0x10000), into: &record, at: 12)
        #expect(
            throws: VariableStoreError.truncated(
                field: "Variable name and data", offset: 0x64 + 32, length: 4 + 0x10000)
        ) {
            try VariableStore(parsing: Self.image(records: record))
        }
        #expect(throws: VariableStoreError.truncated(field: "FV.ZeroVector", offset: 0, length: 16)) {
            try VariableStore(parsing: [0, 0])
        }
    }

    /// One random byte changed in a real store (headers, records, free space, or the
    /// fault-tolerant-write area past the store): the parse either throws an error pointing inside
    /// the file, or gives a store whose rewrite keeps the bytes outside the variable region,
    /// re-parses to the same live variables and is a fixed point. The FV header checksum catches
    /// every change to the header; changes in free space or past the store change nothing. Every
    /// prefix shorter than the store throws.
    @Test func fuzzedBooted() throws {
        let original = try VariableStoreFixture.varsFile("booted")
        let pristine = try VariableStore(parsing: original)
        let last = try #require(pristine.records.last)
        #expect(last.isLive)
        // Past the last record only erased flash (0xFF): no single byte change makes a StartId there.
        let recordsEnd =
            last.offset + VariableRecord.encoded(last.variable, authenticated: pristine.isAuthenticated).count
        #expect(original[recordsEnd..<pristine.storeEnd].allSatisfy { $0 == 0xFF })
        #expect(pristine.storeEnd < original.count)
        var generator = SplitMix64(seed: 0x5641_5253)  // fixed seed: failures reproduce
        var (parsed, refused, loadOptions) = (0, 0, 0)
        for round in 0..<300 {
            var bytes = original
            // Half in the records, a quarter in the headers, the rest in free space or past the store.
            let offset =
                switch round % 4 {
                case 0: Int.random(in: 0..<pristine.variablesOffset, using: &generator)
                case 1: Int.random(in: recordsEnd..<original.count, using: &generator)
                default: Int.random(in: pristine.variablesOffset..<recordsEnd, using: &generator)
                }
            bytes[offset] = UInt8.random(in: 0...255, using: &generator)
            let changed = bytes[offset] != original[offset]
            let context = "byte 0x\(String(offset, radix: 16)) := 0x\(String(bytes[offset], radix: 16))"

            let prefix = Array(original[0..<(offset % pristine.storeEnd)])
            do {
                _ = try VariableStore(parsing: prefix)
                Issue.record("a prefix of \(prefix.count) bytes parsed")
            } catch {
                switch error {
                case .truncated(_, let at, let length):
                    #expect(at + length > prefix.count, "prefix of \(prefix.count) bytes: \(error)")
                case .badValue(let field, _, _):
                    #expect(field == "FV.HeaderLength" || field == "VariableStore.Size", "prefix: \(error)")
                case .invalidName, .storeFull:
                    Issue.record("prefix of \(prefix.count) bytes: \(error)")
                }
            }

            let store: VariableStore
            do {
                store = try VariableStore(parsing: bytes)
            } catch {
                refused += 1
                switch error {
                case .truncated(_, let at, _), .badValue(_, let at, _):
                    #expect(at >= 0 && at < bytes.count, "\(context): \(error)")
                case .invalidName, .storeFull:
                    Issue.record("\(context): parse threw \(error)")
                }
                #expect(changed && offset < recordsEnd, "\(context): refused: \(error)")
                continue
            }
            parsed += 1
            #expect(!changed || offset >= pristine.storeOffset, "\(context): the FV header checksum missed it")
            if !changed || offset >= recordsEnd {
                #expect(store.variables == pristine.variables, "\(context): variables changed")
            }
            let rewritten = try store.encoded()
            // Compared as Data (memcmp): [UInt8] == walks element by element, 40 ms a round in debug.
            #expect(rewritten.count == bytes.count, "\(context)")
            #expect(Data(rewritten[..<store.variablesOffset]) == Data(bytes[..<store.variablesOffset]), "\(context)")
            #expect(Data(rewritten[store.storeEnd...]) == Data(bytes[store.storeEnd...]), "\(context)")
            // The live variables compactly, then erased flash (0xFF) up to the store end.
            let region = store.encodedVariables()
            #expect(
                Data(rewritten[store.variablesOffset..<store.storeEnd])
                    == Data(
                        region + [UInt8](repeating: 0xFF, count: store.storeEnd - store.variablesOffset - region.count)),
                "\(context): variable region is not the live variables then 0xFF")
            let reread = try VariableStore(parsing: rewritten)
            #expect(Set(reread.variables) == Set(store.variables), "\(context): rewrite lost or changed a variable")
            #expect(reread.variables.count == store.variables.count, "\(context)")
            #expect(reread.records.allSatisfy { $0.state == .added && $0.isLive }, "\(context)")
            #expect(try Data(reread.encoded()) == Data(rewritten), "\(context): rewrite is not a fixed point")
            for variable in store.variables where EFIBootOrder.bootOptionNumber(variable.name) != nil {
                // A load option that parses re-encodes to exactly its bytes (unknown nodes stay raw).
                guard let option = try? EFILoadOption(parsing: variable.data) else { continue }
                loadOptions += 1
                #expect(option.encoded() == variable.data, "\(context): \(variable.name)")
            }
        }
        // Not vacuous: most changes land in data or free space and still parse; some are refused.
        #expect(parsed >= 150, "only \(parsed) of 300 changed stores parsed")
        #expect(refused >= 50, "only \(refused) of 300 changed stores were refused")
        #expect(loadOptions >= 400, "only \(loadOptions) load options parsed")
    }
}

/// A deterministic generator for the fuzz test.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
