/// MdeModulePkg Include/Guid/VariableFormat.h VARIABLE_STORE_HEADER (28 bytes): Signature GUID,
/// Size u32 (header included), Format u8, State u8, Reserved u16, Reserved1 u32.
public struct VariableStoreHeader: Hashable, Sendable {
    public static let byteCount = 28
    /// VARIABLE_STORE_FORMATTED.
    public static let formatted: UInt8 = 0x5A
    /// VARIABLE_STORE_HEALTHY.
    public static let healthy: UInt8 = 0xFE

    public var signature: EFIGUID
    public var size: UInt32
    public var format: UInt8
    public var state: UInt8
    public var reserved: UInt16
    public var reserved1: UInt32

    /// Authenticated stores hold AUTHENTICATED_VARIABLE_HEADER records; plain ones VARIABLE_HEADER.
    public var isAuthenticated: Bool { signature == .authenticatedVariable }

    public init(reading cursor: inout ByteCursor) throws(VariableStoreError) {
        let start = cursor.offset
        do throws(ByteCursor.OutOfBounds) {
            signature = try EFIGUID(reading: &cursor, "VariableStore.Signature")
            size = try cursor.read(UInt32.self, "VariableStore.Size")
            format = try cursor.read(UInt8.self, "VariableStore.Format")
            state = try cursor.read(UInt8.self, "VariableStore.State")
            reserved = try cursor.read(UInt16.self, "VariableStore.Reserved")
            reserved1 = try cursor.read(UInt32.self, "VariableStore.Reserved1")
        } catch {
            throw VariableStoreError(error)
        }
        guard signature == .authenticatedVariable || signature == .variable else {
            throw .badValue(field: "VariableStore.Signature", offset: start, detail: "unknown store GUID \(signature)")
        }
        guard format == Self.formatted else {
            throw .badValue(
                field: "VariableStore.Format", offset: start + 20,
                detail: "0x\(String(format, radix: 16)), expected 0x5a")
        }
        guard state == Self.healthy else {
            throw .badValue(
                field: "VariableStore.State", offset: start + 21, detail: "0x\(String(state, radix: 16)), expected 0xfe"
            )
        }
        guard Int(size) >= Self.byteCount else {
            throw .badValue(
                field: "VariableStore.Size", offset: start + 16, detail: "\(size) is smaller than the header")
        }
    }

    public func encoded() -> [UInt8] {
        var bytes = signature.bytes
        ByteCursor.append(size, to: &bytes)
        bytes += [format, state]
        ByteCursor.append(reserved, to: &bytes)
        ByteCursor.append(reserved1, to: &bytes)
        return bytes
    }
}

/// An OVMF VARS file: a firmware volume (EFI_SYSTEM_NV_DATA_FV_GUID) whose body starts with an
/// EDK2 variable store, followed (outside the store) by the fault-tolerant-write areas, which
/// this type leaves untouched.
///
/// Reading follows MdeModulePkg/Universal/Variable/RuntimeDxe (VariableParsing.c): records are
/// walked from the first 4-byte boundary after the store header while StartId is 0x55AA; a record
/// is live if its State is VAR_ADDED, or VAR_ADDED & VAR_IN_DELETED_TRANSITION when no VAR_ADDED
/// record of the same name and GUID exists. Editing keeps the live variables as values; `encoded`
/// writes them compactly after the store header and erases (0xFF) the rest of the store.
public struct VariableStore: Sendable {
    public let volumeHeader: FirmwareVolumeHeader
    public let storeHeader: VariableStoreHeader
    /// Offset of the variable store header in the file (the volume's HeaderLength).
    public let storeOffset: Int
    /// Every record found, in store order, as parsed (not updated by `set` or `delete`).
    public let records: [VariableRecord]
    /// The live variables; `set` and `delete` change this list.
    public internal(set) var variables: [EFIVariable]
    /// The file as read; everything outside the variable region is written back unchanged.
    public let original: [UInt8]

    /// Records that are not live: deleted, superseded or only half written, in store order.
    public var deletedVariables: [VariableRecord] { records.filter { !$0.isLive } }
    public var isAuthenticated: Bool { storeHeader.isAuthenticated }
    /// Offset of the first variable record.
    public var variablesOffset: Int { Self.align(storeOffset + VariableStoreHeader.byteCount) }
    /// Offset just past the store (store header included in `Size`).
    public var storeEnd: Int { storeOffset + Int(storeHeader.size) }

    public init(parsing bytes: [UInt8]) throws(VariableStoreError) {
        volumeHeader = try FirmwareVolumeHeader(parsing: bytes)
        guard volumeHeader.fileSystemGUID == .systemNVDataFV else {
            throw .badValue(
                field: "FV.FileSystemGuid", offset: 16,
                detail: "\(volumeHeader.fileSystemGUID), expected EFI_SYSTEM_NV_DATA_FV_GUID \(EFIGUID.systemNVDataFV)")
        }
        storeOffset = Int(volumeHeader.headerLength)
        var cursor = ByteCursor(bytes, offset: storeOffset)
        storeHeader = try VariableStoreHeader(reading: &cursor)
        let end = storeOffset + Int(storeHeader.size)
        guard end <= bytes.count, UInt64(end) <= volumeHeader.fvLength else {
            throw .badValue(
                field: "VariableStore.Size", offset: storeOffset + 16,
                detail: "store ends at 0x\(String(end, radix: 16)), past the volume or file")
        }
        original = bytes
        records = try Self.parseRecords(
            in: bytes, from: Self.align(storeOffset + VariableStoreHeader.byteCount), to: end,
            authenticated: storeHeader.signature == .authenticatedVariable)
        variables = records.filter(\.isLive).map(\.variable)
    }

    /// The live variable with this name and GUID.
    public func variable(named name: String, guid: EFIGUID) -> EFIVariable? {
        variables.first { $0.name == name && $0.guid == guid }
    }

    static func align(_ offset: Int) -> Int {
        (offset + VariableRecord.headerAlignment - 1) & ~(VariableRecord.headerAlignment - 1)
    }

    static func parseRecords(
        in bytes: [UInt8], from start: Int, to end: Int, authenticated: Bool
    ) throws(VariableStoreError)
        -> [VariableRecord]
    {
        var records: [VariableRecord] = []
        var offset = start
        // VariableParsing.c IsValidVariableHeader: stop at the store end or at a missing StartId.
        while offset + 2 <= end {
            let startID: UInt16
            do { startID = try ByteCursor.integer(in: bytes, at: offset, "Variable.StartId") } catch {
                throw VariableStoreError(error)
            }
            guard startID == VariableRecord.startID else { break }
            let headerSize = authenticated ? VariableRecord.authenticatedHeaderSize : VariableRecord.headerSize
            guard offset + headerSize <= end else {
                throw .truncated(field: "Variable header", offset: offset, length: headerSize)
            }
            var cursor = ByteCursor(bytes, offset: offset + 2)
            let record = try readRecord(&cursor, at: offset, end: end, authenticated: authenticated)
            records.append(record)
            offset = align(cursor.offset)
        }
        return markLive(records)
    }

    /// One record whose StartId has been checked; `cursor` sits on its State byte.
    static func readRecord(
        _ cursor: inout ByteCursor, at offset: Int, end: Int, authenticated: Bool
    )
        throws(VariableStoreError) -> VariableRecord
    {
        var record: VariableRecord
        let nameBytes: [UInt8]
        let nameOffset: Int
        do throws(ByteCursor.OutOfBounds) {
            let state = VariableState(rawValue: try cursor.read(UInt8.self, "Variable.State"))
            let reserved = try cursor.read(UInt8.self, "Variable.Reserved")
            let attributes = EFIVariableAttributes(rawValue: try cursor.read(UInt32.self, "Variable.Attributes"))
            var monotonicCount: UInt64 = 0
            var timeStamp = EFITime.zero
            var pubKeyIndex: UInt32 = 0
            if authenticated {
                monotonicCount = try cursor.read(UInt64.self, "Variable.MonotonicCount")
                timeStamp = try EFITime(reading: &cursor)
                pubKeyIndex = try cursor.read(UInt32.self, "Variable.PubKeyIndex")
            }
            let nameSize = Int(try cursor.read(UInt32.self, "Variable.NameSize"))
            let dataSize = Int(try cursor.read(UInt32.self, "Variable.DataSize"))
            let guid = try EFIGUID(reading: &cursor, "Variable.VendorGuid")
            nameOffset = cursor.offset
            // Name and data must lie inside the store, not merely inside the file.
            guard nameSize <= end - nameOffset, dataSize <= end - nameOffset - nameSize else {
                throw ByteCursor.OutOfBounds(
                    field: "Variable name and data", offset: nameOffset, length: nameSize + dataSize)
            }
            nameBytes = try cursor.readBytes(nameSize, "Variable.Name")
            let data = try cursor.readBytes(dataSize, "Variable.Data")
            let variable = EFIVariable(
                name: "", guid: guid, attributes: attributes, data: data,
                monotonicCount: monotonicCount, timeStamp: timeStamp, pubKeyIndex: pubKeyIndex)
            record = VariableRecord(offset: offset, state: state, reserved: reserved, variable: variable, isLive: false)
        } catch {
            throw VariableStoreError(error)
        }
        // A VAR_HEADER_VALID_ONLY record's name may never have been written: do not reject it.
        record.variable.name = try decodeName(nameBytes, at: nameOffset, required: record.state != .headerValidOnly)
        return record
    }

    /// VariableParsing.c FindVariableEx: the first VAR_ADDED record of a name and GUID wins; else
    /// the last VAR_ADDED & VAR_IN_DELETED_TRANSITION record (a replacement interrupted mid-write).
    static func markLive(_ records: [VariableRecord]) -> [VariableRecord] {
        struct Key: Hashable {
            var name: String
            var guid: EFIGUID
        }
        var winner: [Key: Int] = [:]
        var winnerIsAdded: Set<Key> = []
        for (index, record) in records.enumerated() {
            let key = Key(name: record.variable.name, guid: record.variable.guid)
            if record.state == .added {
                if !winnerIsAdded.contains(key) {
                    winner[key] = index
                    winnerIsAdded.insert(key)
                }
            } else if record.state == .addedInDeletedTransition, !winnerIsAdded.contains(key) {
                winner[key] = index
            }
        }
        var result = records
        for index in winner.values { result[index].isLive = true }
        return result
    }

    /// UTF-16LE, NUL-terminated, no interior NUL.
    static func decodeName(_ bytes: [UInt8], at offset: Int, required: Bool) throws(VariableStoreError) -> String {
        var units: [UInt16] = []
        var index = 0
        while index + 1 < bytes.count {
            units.append(UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
            index += 2
        }
        guard bytes.count % 2 == 0, units.last == 0, !units.dropLast().contains(0) else {
            // A header-only record's name may never have been written; keep what is there.
            if !required { return String(decoding: units.prefix { $0 != 0 }, as: UTF16.self) }
            throw .badValue(field: "Variable.Name", offset: offset, detail: "not a NUL-terminated UTF-16 string")
        }
        guard let name = String(validating: units.dropLast(), as: UTF16.self) else {
            if !required { return String(decoding: units.dropLast(), as: UTF16.self) }
            throw .badValue(field: "Variable.Name", offset: offset, detail: "invalid UTF-16")
        }
        return name
    }
}
