/// Structure derived from fuzzer bytes: choices, small numbers and chunks, read front to back.
/// Running out of bytes yields zeros and empty chunks, so every input means something.
public struct FuzzBytes {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: [UInt8] { isAtEnd ? [] : Array(bytes[offset...]) }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// One of `choices` (which must not be empty).
    public mutating func pick<T>(_ choices: [T]) -> T { choices[Int(byte()) % choices.count] }

    /// A chunk prefixed by a 16-bit length (clamped to what is left).
    public mutating func chunk() -> [UInt8] {
        let length = min(Int(uint16()), bytes.count - min(offset, bytes.count))
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }
}
