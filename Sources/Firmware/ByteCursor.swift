/// Little-endian reads and writes over bytes, for the firmware formats (PCI option ROMs, PE/COFF,
/// EDK2 firmware volumes and variable stores), all of which are little-endian.
public struct ByteCursor: Sendable {
    public let bytes: [UInt8]
    public var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public struct OutOfBounds: Error, Hashable, Sendable, CustomStringConvertible {
        public var field: String
        public var offset: Int
        public var length: Int
        public var description: String { "\(field): \(length) bytes at offset \(offset) run past the end" }
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ field: String) throws(OutOfBounds) -> T {
        let size = MemoryLayout<T>.size
        let value: T = try Self.integer(in: bytes, at: offset, field)
        offset += size
        return value
    }

    public mutating func readBytes(_ count: Int, _ field: String) throws(OutOfBounds) -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else {
            throw OutOfBounds(field: field, offset: offset, length: count)
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A little-endian integer at an absolute offset.
    public static func integer<T: FixedWidthInteger>(
        in bytes: [UInt8], at offset: Int, _ field: String
    ) throws(OutOfBounds) -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset + size <= bytes.count else {
            throw OutOfBounds(field: field, offset: offset, length: size)
        }
        var value: T = 0
        for index in 0..<size { value |= T(truncatingIfNeeded: bytes[offset + index]) << (8 * index) }
        return value
    }

    /// Writes `value` little-endian at `offset` (the array must be large enough).
    public static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }

    /// Appends `value` little-endian.
    public static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        for index in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
