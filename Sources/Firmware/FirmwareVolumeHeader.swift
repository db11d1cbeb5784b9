/// PI 1.8 Vol. 3 §3.2.1 EFI_FIRMWARE_VOLUME_HEADER, as it opens an OVMF VARS file.
///
/// ```text
///  0 ZeroVector[16]   16 FileSystemGuid   32 FvLength (u64)   40 Signature "_FVH"
/// 44 Attributes (u32) 48 HeaderLength (u16) 50 Checksum (u16) 52 ExtHeaderOffset (u16)
/// 54 Reserved (u8)    55 Revision (u8)    56 BlockMap[] {NumBlocks u32, Length u32} ... {0, 0}
/// ```
public struct FirmwareVolumeHeader: Hashable, Sendable {
    /// PI Vol. 3 EFI_FVH_SIGNATURE, "_FVH" read as a little-endian u32.
    public static let signature: UInt32 = 0x4856_465F
    /// PI Vol. 3 EFI_FVH_REVISION.
    public static let revision2: UInt8 = 0x02
    /// Bytes before the block map.
    public static let fixedSize = 56

    public struct BlockMapEntry: Hashable, Sendable {
        public var numBlocks: UInt32
        public var length: UInt32
        public init(numBlocks: UInt32, length: UInt32) {
            self.numBlocks = numBlocks
            self.length = length
        }
    }

    public var zeroVector: [UInt8]
    public var fileSystemGUID: EFIGUID
    public var fvLength: UInt64
    public var attributes: UInt32
    public var headerLength: UInt16
    public var checksum: UInt16
    public var extHeaderOffset: UInt16
    public var reserved: UInt8
    public var revision: UInt8
    /// The entries before the {0, 0} terminator.
    public var blockMap: [BlockMapEntry]

    /// Parses the header at the start of `bytes`, checking signature, length and checksum.
    public init(parsing bytes: [UInt8]) throws(VariableStoreError) {
        var cursor = ByteCursor(bytes)
        let signature: UInt32
        do throws(ByteCursor.OutOfBounds) {
            zeroVector = try cursor.readBytes(16, "FV.ZeroVector")
            fileSystemGUID = try EFIGUID(reading: &cursor, "FV.FileSystemGuid")
            fvLength = try cursor.read(UInt64.self, "FV.FvLength")
            signature = try cursor.read(UInt32.self, "FV.Signature")
            attributes = try cursor.read(UInt32.self, "FV.Attributes")
            headerLength = try cursor.read(UInt16.self, "FV.HeaderLength")
            checksum = try cursor.read(UInt16.self, "FV.Checksum")
            extHeaderOffset = try cursor.read(UInt16.self, "FV.ExtHeaderOffset")
            reserved = try cursor.read(UInt8.self, "FV.Reserved")
            revision = try cursor.read(UInt8.self, "FV.Revision")
        } catch {
            throw VariableStoreError(error)
        }
        guard signature == Self.signature else {
            throw .badValue(
                field: "FV.Signature", offset: 40, detail: "0x\(String(signature, radix: 16)), expected \"_FVH\"")
        }
        do throws(ByteCursor.OutOfBounds) {
            var map: [BlockMapEntry] = []
            while true {
                let numBlocks = try cursor.read(UInt32.self, "FV.BlockMap.NumBlocks")
                let length = try cursor.read(UInt32.self, "FV.BlockMap.Length")
                if numBlocks == 0 && length == 0 { break }
                map.append(BlockMapEntry(numBlocks: numBlocks, length: length))
            }
            blockMap = map
        } catch {
            throw VariableStoreError(error)
        }
        guard Int(headerLength) >= cursor.offset, Int(headerLength) <= bytes.count, headerLength % 2 == 0 else {
            throw .badValue(
                field: "FV.HeaderLength", offset: 48,
                detail: "\(headerLength) does not cover the \(cursor.offset)-byte header or overruns the file")
        }
        let sum = Self.checksum16(bytes[0..<Int(headerLength)])
        guard sum == 0 else {
            throw .badValue(
                field: "FV.Checksum", offset: 50, detail: "header sums to 0x\(String(sum, radix: 16)), expected 0")
        }
    }

    /// The header bytes (fixed part and block map with its terminator); `headerLength` is kept as
    /// stored, so bytes between the block map and `headerLength` (none in OVMF) are the caller's.
    public func encoded() -> [UInt8] {
        var bytes = zeroVector
        bytes += fileSystemGUID.bytes
        ByteCursor.append(fvLength, to: &bytes)
        ByteCursor.append(Self.signature, to: &bytes)
        ByteCursor.append(attributes, to: &bytes)
        ByteCursor.append(headerLength, to: &bytes)
        ByteCursor.append(checksum, to: &bytes)
        ByteCursor.append(extHeaderOffset, to: &bytes)
        bytes.append(reserved)
        bytes.append(revision)
        for entry in blockMap + [BlockMapEntry(numBlocks: 0, length: 0)] {
            ByteCursor.append(entry.numBlocks, to: &bytes)
            ByteCursor.append(entry.length, to: &bytes)
        }
        return bytes
    }

    /// The 16-bit sum of little-endian words that a valid header makes zero.
    public static func checksum16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt16 = 0
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            sum &+= UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8
            index += 2
        }
        return sum
    }
}
