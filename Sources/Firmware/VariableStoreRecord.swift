/// UEFI 2.10 §8.3 EFI_TIME, as stored in AUTHENTICATED_VARIABLE_HEADER.TimeStamp (16 bytes).
public struct EFITime: Hashable, Sendable {
    public static let byteCount = 16
    /// All fields zero: what EDK2 stores for variables that are not time-based authenticated.
    public static let zero = EFITime()

    public var year: UInt16 = 0
    public var month: UInt8 = 0
    public var day: UInt8 = 0
    public var hour: UInt8 = 0
    public var minute: UInt8 = 0
    public var second: UInt8 = 0
    public var pad1: UInt8 = 0
    public var nanosecond: UInt32 = 0
    public var timeZone: Int16 = 0
    public var daylight: UInt8 = 0
    public var pad2: UInt8 = 0

    public init(
        year: UInt16 = 0, month: UInt8 = 0, day: UInt8 = 0, hour: UInt8 = 0, minute: UInt8 = 0, second: UInt8 = 0,
        nanosecond: UInt32 = 0, timeZone: Int16 = 0, daylight: UInt8 = 0
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
        self.timeZone = timeZone
        self.daylight = daylight
    }

    public init(reading cursor: inout ByteCursor) throws(ByteCursor.OutOfBounds) {
        year = try cursor.read(UInt16.self, "TimeStamp.Year")
        month = try cursor.read(UInt8.self, "TimeStamp.Month")
        day = try cursor.read(UInt8.self, "TimeStamp.Day")
        hour = try cursor.read(UInt8.self, "TimeStamp.Hour")
        minute = try cursor.read(UInt8.self, "TimeStamp.Minute")
        second = try cursor.read(UInt8.self, "TimeStamp.Second")
        pad1 = try cursor.read(UInt8.self, "TimeStamp.Pad1")
        nanosecond = try cursor.read(UInt32.self, "TimeStamp.Nanosecond")
        timeZone = try cursor.read(Int16.self, "TimeStamp.TimeZone")
        daylight = try cursor.read(UInt8.self, "TimeStamp.Daylight")
        pad2 = try cursor.read(UInt8.self, "TimeStamp.Pad2")
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        ByteCursor.append(year, to: &bytes)
        bytes += [month, day, hour, minute, second, pad1]
        ByteCursor.append(nanosecond, to: &bytes)
        ByteCursor.append(timeZone, to: &bytes)
        bytes += [daylight, pad2]
        return bytes
    }
}

/// UEFI 2.10 §8.2 variable attributes (EFI_VARIABLE_*).
public struct EFIVariableAttributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let nonVolatile = EFIVariableAttributes(rawValue: 0x0000_0001)
    public static let bootServiceAccess = EFIVariableAttributes(rawValue: 0x0000_0002)
    public static let runtimeAccess = EFIVariableAttributes(rawValue: 0x0000_0004)
    public static let hardwareErrorRecord = EFIVariableAttributes(rawValue: 0x0000_0008)
    /// Deprecated by UEFI 2.x; still a defined bit.
    public static let authenticatedWriteAccess = EFIVariableAttributes(rawValue: 0x0000_0010)
    public static let timeBasedAuthenticatedWriteAccess = EFIVariableAttributes(rawValue: 0x0000_0020)
    public static let appendWrite = EFIVariableAttributes(rawValue: 0x0000_0040)
    public static let enhancedAuthenticatedAccess = EFIVariableAttributes(rawValue: 0x0000_0080)

    /// NV+BS+RT: what the UEFI spec requires for Boot####, BootOrder and BootNext.
    public static let bootVariable: EFIVariableAttributes = [.nonVolatile, .bootServiceAccess, .runtimeAccess]
}

/// One EFI variable: what GetVariable() would return, plus the authenticated-header bookkeeping.
public struct EFIVariable: Hashable, Sendable {
    public var name: String
    public var guid: EFIGUID
    public var attributes: EFIVariableAttributes
    public var data: [UInt8]
    /// AUTHENTICATED_VARIABLE_HEADER fields; zero in a non-authenticated store.
    public var monotonicCount: UInt64
    public var timeStamp: EFITime
    public var pubKeyIndex: UInt32

    public init(
        name: String, guid: EFIGUID, attributes: EFIVariableAttributes, data: [UInt8],
        monotonicCount: UInt64 = 0, timeStamp: EFITime = .zero, pubKeyIndex: UInt32 = 0
    ) {
        self.name = name
        self.guid = guid
        self.attributes = attributes
        self.data = data
        self.monotonicCount = monotonicCount
        self.timeStamp = timeStamp
        self.pubKeyIndex = pubKeyIndex
    }

    /// NameSize as stored: UTF-16LE code units plus the terminating NUL.
    public var nameSize: Int { (name.utf16.count + 1) * 2 }
}

/// One variable record as found in the store, live or not.
///
/// MdeModulePkg Include/Guid/VariableFormat.h VARIABLE_HEADER / AUTHENTICATED_VARIABLE_HEADER:
/// StartId u16 (0x55AA), State u8, Reserved u8, Attributes u32, [MonotonicCount u64, TimeStamp
/// EFI_TIME, PubKeyIndex u32], NameSize u32, DataSize u32, VendorGuid, then name and data; the
/// next record starts at the following 4-byte boundary (HEADER_ALIGNMENT).
public struct VariableRecord: Hashable, Sendable {
    /// VariableFormat.h VARIABLE_DATA.
    public static let startID: UInt16 = 0x55AA
    /// VariableFormat.h HEADER_ALIGNMENT.
    public static let headerAlignment = 4
    /// sizeof(VARIABLE_HEADER).
    public static let headerSize = 32
    /// sizeof(AUTHENTICATED_VARIABLE_HEADER).
    public static let authenticatedHeaderSize = 60

    /// Offset of the StartId from the start of the file.
    public var offset: Int
    public var state: VariableState
    public var reserved: UInt8
    public var variable: EFIVariable
    /// Whether EDK2 would return this record from GetVariable() (see `VariableState`).
    public var isLive: Bool

    public init(offset: Int, state: VariableState, reserved: UInt8 = 0, variable: EFIVariable, isLive: Bool) {
        self.offset = offset
        self.state = state
        self.reserved = reserved
        self.variable = variable
        self.isLive = isLive
    }

    /// Bytes of one record including its trailing alignment padding (0xFF, as on erased flash).
    public static func encoded(_ variable: EFIVariable, state: VariableState = .added, authenticated: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        ByteCursor.append(startID, to: &bytes)
        bytes.append(state.rawValue)
        bytes.append(0)
        ByteCursor.append(variable.attributes.rawValue, to: &bytes)
        if authenticated {
            ByteCursor.append(variable.monotonicCount, to: &bytes)
            bytes += variable.timeStamp.encoded()
            ByteCursor.append(variable.pubKeyIndex, to: &bytes)
        }
        ByteCursor.append(UInt32(variable.nameSize), to: &bytes)
        ByteCursor.append(UInt32(variable.data.count), to: &bytes)
        bytes += variable.guid.bytes
        for unit in variable.name.utf16 { ByteCursor.append(unit, to: &bytes) }
        bytes += [0, 0]
        bytes += variable.data
        while bytes.count % headerAlignment != 0 { bytes.append(0xFF) }
        return bytes
    }
}

/// VariableFormat.h variable State values. Flash bits only go 1 → 0, so EDK2 moves a record
/// through states by ANDing: VAR_ADDED (0x3F), then VAR_IN_DELETED_TRANSITION (0xFE) while its
/// replacement is written (0x3E), then VAR_DELETED (0xFD) (0x3C).
public struct VariableState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// VAR_IN_DELETED_TRANSITION: variable is in obsolete transition.
    public static let inDeletedTransition = VariableState(rawValue: 0xFE)
    /// VAR_DELETED: variable is obsolete.
    public static let deleted = VariableState(rawValue: 0xFD)
    /// VAR_HEADER_VALID_ONLY: header was written, name and data were not.
    public static let headerValidOnly = VariableState(rawValue: 0x7F)
    /// VAR_ADDED: variable has been completely added.
    public static let added = VariableState(rawValue: 0x3F)
    /// VAR_ADDED & VAR_IN_DELETED_TRANSITION: still valid unless a VAR_ADDED copy exists
    /// (Variable/RuntimeDxe/VariableParsing.c FindVariableEx).
    public static let addedInDeletedTransition = VariableState(rawValue: 0x3F & 0xFE)

    public var description: String {
        switch self {
        case .added: "VAR_ADDED"
        case .addedInDeletedTransition: "VAR_ADDED&VAR_IN_DELETED_TRANSITION"
        case .headerValidOnly: "VAR_HEADER_VALID_ONLY"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}
