/// A `ByteCursor` that reports running off the end as `OptionROMError.truncated` for one image.
struct OptionROMReader {
    var cursor: ByteCursor
    let image: Int

    init(_ bytes: [UInt8], offset: Int, image: Int) {
        cursor = ByteCursor(bytes, offset: offset)
        self.image = image
    }

    var offset: Int { cursor.offset }

    /// Reads the 55 AA that starts every image (PCI Firmware 3.0 §5.1); legacy and EFI images share it.
    mutating func readROMSignature() throws(OptionROMError) {
        let start = cursor.offset
        let signature = try read(UInt16.self, "ROM signature")
        guard signature == OptionROMLegacyHeader.signature else {
            throw .badROMSignature(image: image, offset: start, found: signature)
        }
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(OptionROMError) -> T {
        do { return try cursor.read(type, field) } catch { throw truncated(error) }
    }

    mutating func readBytes(_ count: Int, _ field: String) throws(OptionROMError) -> [UInt8] {
        do { return try cursor.readBytes(count, field) } catch { throw truncated(error) }
    }

    func integer<T: FixedWidthInteger>(at offset: Int, _ field: String) throws(OptionROMError) -> T {
        do { return try ByteCursor.integer(in: cursor.bytes, at: offset, field) } catch { throw truncated(error) }
    }

    private func truncated(_ error: ByteCursor.OutOfBounds) -> OptionROMError {
        .truncated(
            image: image, field: error.field, offset: error.offset, length: error.length,
            fileSize: cursor.bytes.count)
    }
}
