import NIOCore

/// Reads and writes the code-length-value option area (RFC 2132 §2).
enum DHCPOptionArea {
    /// Parses options until the end option or the end of the area. `base` is the area's offset in
    /// the datagram, for error messages. Returns the options and the octets left after `end`.
    static func parse(
        _ buffer: inout ByteBuffer, base: Int
    ) throws(DHCPParseError) -> (options: [DHCPOption], trailing: Int) {
        var options: [DHCPOption] = []
        let start = buffer.readerIndex
        while let code = buffer.readInteger(as: UInt8.self) {
            switch DHCPOptionCode(code) {
            case .pad:
                options.append(DHCPOption(.pad, []))
            case .end:
                return (options, buffer.readableBytes)
            default:
                let offset = base + buffer.readerIndex - start - 1
                guard let length = buffer.readInteger(as: UInt8.self),
                    let data = buffer.readBytes(length: Int(length))
                else { throw .truncatedOption(code: code, offset: offset) }
                options.append(DHCPOption(DHCPOptionCode(code), data))
            }
        }
        return (options, 0)
    }

    /// Writes each option, splitting values over 255 octets into consecutive instances (RFC 3396 §7),
    /// then the end option.
    static func write(_ options: [DHCPOption], to buffer: inout ByteBuffer) {
        for option in options {
            if option.code == .pad || option.code == .end {
                buffer.writeInteger(option.code.rawValue)
                continue
            }
            var remaining = option.data[...]
            repeat {
                let chunk = remaining.prefix(255)
                buffer.writeInteger(option.code.rawValue)
                buffer.writeInteger(UInt8(chunk.count))
                buffer.writeBytes(chunk)
                remaining = remaining.dropFirst(chunk.count)
            } while !remaining.isEmpty
        }
        buffer.writeInteger(DHCPOptionCode.end.rawValue)
    }
}

extension [DHCPOption] {
    /// The value of `code`, with every instance concatenated in order (RFC 3396 §7); nil when absent.
    public func value(_ code: DHCPOptionCode) -> [UInt8]? {
        var found: [UInt8]?
        for option in self where option.code == code {
            found = (found ?? []) + option.data
        }
        return found
    }

    public func contains(_ code: DHCPOptionCode) -> Bool {
        contains { $0.code == code }
    }
}
