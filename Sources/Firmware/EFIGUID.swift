/// UEFI 2.10 Appendix A EFI_GUID: 128 bits stored as Data1 (u32 LE), Data2 (u16 LE), Data3 (u16 LE),
/// Data4 (8 bytes), written in text as `aaf32c78-947b-439a-a180-2e144ec37792` (the first three
/// groups are the little-endian fields, the last two are the Data4 bytes in order).
public struct EFIGUID: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 16

    /// The 16 bytes as stored on disk (mixed endian).
    public let bytes: [UInt8]

    /// Wraps 16 on-disk bytes; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public init(
        data1: UInt32, data2: UInt16, data3: UInt16, data4: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
    ) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        ByteCursor.append(data1, to: &bytes)
        ByteCursor.append(data2, to: &bytes)
        ByteCursor.append(data3, to: &bytes)
        bytes += [data4.0, data4.1, data4.2, data4.3, data4.4, data4.5, data4.6, data4.7]
        self.bytes = bytes
    }

    /// Parses the registry text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (case-insensitive).
    public init?(_ text: String) {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return nil }
        guard let data1 = UInt32(groups[0], radix: 16), let data2 = UInt16(groups[1], radix: 16),
            let data3 = UInt16(groups[2], radix: 16), let tail = Self.hexBytes(groups[3] + groups[4])
        else { return nil }
        var bytes: [UInt8] = []
        ByteCursor.append(data1, to: &bytes)
        ByteCursor.append(data2, to: &bytes)
        ByteCursor.append(data3, to: &bytes)
        self.bytes = bytes + tail
    }

    /// Reads 16 bytes at the cursor.
    public init(reading cursor: inout ByteCursor, _ field: String) throws(ByteCursor.OutOfBounds) {
        bytes = try cursor.readBytes(Self.byteCount, field)
    }

    public var description: String {
        func hex(_ part: some Sequence<UInt8>) -> String { part.map { Self.hexByte($0) }.joined() }
        return [
            hex(bytes[0..<4].reversed()), hex(bytes[4..<6].reversed()), hex(bytes[6..<8].reversed()),
            hex(bytes[8..<10]), hex(bytes[10..<16]),
        ].joined(separator: "-")
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }

    static func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
        let characters = Array(text)
        guard characters.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let byte = UInt8(String(characters[index...index + 1]), radix: 16) else { return nil }
            result.append(byte)
            index += 2
        }
        return result
    }
}

extension EFIGUID {
    /// MdePkg Guid/GlobalVariable.h EFI_GLOBAL_VARIABLE (Boot####, BootOrder, BootNext, PK, KEK, ...).
    public static let globalVariable = EFIGUID(
        data1: 0x8be4_df61, data2: 0x93ca, data3: 0x11d2, data4: (0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c))
    /// MdePkg Guid/ImageAuthentication.h EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx).
    public static let imageSecurityDatabase = EFIGUID(
        data1: 0xd719_b2cb, data2: 0x3d3a, data3: 0x4596, data4: (0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f))
    /// MdeModulePkg Guid/VariableFormat.h gEfiVariableGuid: store of plain VARIABLE_HEADER records.
    public static let variable = EFIGUID(
        data1: 0xddcf_3616, data2: 0x3275, data3: 0x4164, data4: (0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d))
    /// MdeModulePkg Guid/VariableFormat.h gEfiAuthenticatedVariableGuid: store of AUTHENTICATED_VARIABLE_HEADER records.
    public static let authenticatedVariable = EFIGUID(
        data1: 0xaaf3_2c78, data2: 0x947b, data3: 0x439a, data4: (0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92))
    /// MdeModulePkg Guid/SystemNvDataGuid.h EFI_SYSTEM_NV_DATA_FV_GUID: FileSystemGuid of the NV variable volume.
    public static let systemNVDataFV = EFIGUID(
        data1: 0xfff1_2b8d, data2: 0x7696, data3: 0x4c8b, data4: (0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50))
}
