import NIOCore

/// A peer broke the protocol: the connection ends (the spec's "hard disconnect").
public struct NBDProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// S: the first 18 bytes: `NBDMAGIC`, `IHAVEOPT`, 16 bits of handshake flags.
public struct NBDGreeting: Hashable, Sendable {
    public static let size = 18
    public var flags: NBDHandshakeFlags

    public init(flags: NBDHandshakeFlags) { self.flags = flags }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(NBDMagic.greeting)
        buffer.writeInteger(NBDMagic.option)
        buffer.writeInteger(UInt16(truncatingIfNeeded: flags.rawValue))
    }

    public static func parse(_ buffer: inout ByteBuffer) throws -> Self? {
        guard buffer.readableBytes >= size else { return nil }
        guard buffer.readInteger(as: UInt64.self) == NBDMagic.greeting,
            buffer.readInteger(as: UInt64.self) == NBDMagic.option,
            let flags = buffer.readInteger(as: UInt16.self)
        else { throw NBDProtocolError("not an NBD newstyle greeting") }
        return Self(flags: NBDHandshakeFlags(rawValue: UInt32(flags)))
    }
}

/// C: the client's 32 bits of flags, answering the greeting.
public struct NBDClientFlags: Hashable, Sendable {
    public static let size = 4
    public var flags: NBDHandshakeFlags

    public init(flags: NBDHandshakeFlags) { self.flags = flags }

    public func encode(into buffer: inout ByteBuffer) { buffer.writeInteger(flags.rawValue) }

    public static func parse(_ buffer: inout ByteBuffer) -> Self? {
        buffer.readInteger(as: UInt32.self).map { Self(flags: NBDHandshakeFlags(rawValue: $0)) }
    }
}

/// C: `IHAVEOPT`, 32 bits of option, 32 bits of length, the data.
public struct NBDOption: Hashable, Sendable {
    public static let headerSize = 16
    /// Names are at most 4096 bytes (the spec's string limit); a GO adds its length and info list.
    public static let maxDataLength = 8 * 1024

    public var type: NBDOptionType
    public var data: ByteBuffer

    public init(type: NBDOptionType, data: ByteBuffer = ByteBuffer()) {
        self.type = type
        self.data = data
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(NBDMagic.option)
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt32(data.readableBytes))
        var data = data
        buffer.writeBuffer(&data)
    }

    /// nil until the whole option has arrived; a wrong magic or an option longer than
    /// `maxDataLength` throws (the connection is closed rather than read on).
    public static func parse(_ buffer: inout ByteBuffer) throws -> Self? {
        guard let header = buffer.getSlice(at: buffer.readerIndex, length: headerSize) else { return nil }
        var reader = header
        guard reader.readInteger(as: UInt64.self) == NBDMagic.option else {
            throw NBDProtocolError("an option without IHAVEOPT")
        }
        let type = NBDOptionType(rawValue: reader.readInteger(as: UInt32.self)!)
        let length = Int(reader.readInteger(as: UInt32.self)!)
        guard length <= maxDataLength else {
            throw NBDProtocolError("option \(type.rawValue) of \(length) bytes, more than \(maxDataLength)")
        }
        guard buffer.readableBytes >= headerSize + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headerSize)
        return Self(type: type, data: buffer.readSlice(length: length)!)
    }
}

/// The data of `NBD_OPT_GO` and `NBD_OPT_INFO`: 32-bit name length, the name, 16-bit count of
/// information requests, each 16 bits. (`NBD_OPT_EXPORT_NAME`'s data is the name alone.)
public struct NBDExportRequest: Hashable, Sendable {
    public var name: String
    public var informationRequests: [UInt16]

    public init(name: String, informationRequests: [UInt16] = []) {
        self.name = name
        self.informationRequests = informationRequests
    }

    public func encode() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(name.utf8.count))
        buffer.writeString(name)
        buffer.writeInteger(UInt16(informationRequests.count))
        for request in informationRequests { buffer.writeInteger(request) }
        return buffer
    }

    public init(parsing data: ByteBuffer) throws {
        var data = data
        guard let length = data.readInteger(as: UInt32.self), let name = data.readString(length: Int(length)),
            let count = data.readInteger(as: UInt16.self), data.readableBytes == Int(count) * 2
        else { throw NBDProtocolError("a GO or INFO option whose lengths do not add up") }
        self.name = name
        informationRequests = (0..<Int(count)).map { _ in data.readInteger(as: UInt16.self)! }
    }
}

/// S: a reply to any option but `NBD_OPT_EXPORT_NAME`.
public struct NBDOptionReply: Hashable, Sendable {
    public static let headerSize = 20
    public var option: NBDOptionType
    public var type: NBDReplyType
    public var data: ByteBuffer

    public init(option: NBDOptionType, type: NBDReplyType, data: ByteBuffer = ByteBuffer()) {
        self.option = option
        self.type = type
        self.data = data
    }

    /// An error reply with a message for the person at the client (the spec allows UTF-8 text).
    public static func error(_ option: NBDOptionType, _ type: NBDReplyType, _ message: String) -> Self {
        Self(option: option, type: type, data: ByteBuffer(string: message))
    }

    /// `NBD_REP_INFO` with `NBD_INFO_EXPORT`: the export's size and transmission flags.
    public static func exportInfo(_ option: NBDOptionType, size: UInt64, flags: NBDTransmissionFlags) -> Self {
        var data = ByteBuffer()
        data.writeInteger(NBDInfoType.export)
        data.writeInteger(size)
        data.writeInteger(flags.rawValue)
        return Self(option: option, type: .info, data: data)
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(NBDMagic.optionReply)
        buffer.writeInteger(option.rawValue)
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt32(data.readableBytes))
        var data = data
        buffer.writeBuffer(&data)
    }

    public static func parse(_ buffer: inout ByteBuffer) throws -> Self? {
        guard let header = buffer.getSlice(at: buffer.readerIndex, length: headerSize) else { return nil }
        var reader = header
        guard reader.readInteger(as: UInt64.self) == NBDMagic.optionReply else {
            throw NBDProtocolError("an option reply without its magic")
        }
        let option = NBDOptionType(rawValue: reader.readInteger(as: UInt32.self)!)
        let type = NBDReplyType(rawValue: reader.readInteger(as: UInt32.self)!)
        let length = Int(reader.readInteger(as: UInt32.self)!)
        guard buffer.readableBytes >= headerSize + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headerSize)
        return Self(option: option, type: type, data: buffer.readSlice(length: length)!)
    }
}

/// S: `NBD_OPT_EXPORT_NAME`'s answer: size, transmission flags, 124 zero bytes unless the client
/// said `noZeroes`.
public struct NBDExportNameReply: Hashable, Sendable {
    public static let zeroes = 124
    public var size: UInt64
    public var flags: NBDTransmissionFlags
    public var padded: Bool

    public init(size: UInt64, flags: NBDTransmissionFlags, padded: Bool) {
        self.size = size
        self.flags = flags
        self.padded = padded
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(size)
        buffer.writeInteger(flags.rawValue)
        if padded { buffer.writeRepeatingByte(0, count: Self.zeroes) }
    }
}

/// C: a transmission request: magic, flags, command, handle, offset, length (28 bytes), then a
/// write's data.
public struct NBDRequest: Hashable, Sendable {
    public static let size = 28
    public var flags: NBDCommandFlags
    public var command: NBDCommand
    /// The client's cookie, echoed in the reply.
    public var handle: UInt64
    public var offset: UInt64
    public var length: UInt32

    public init(flags: NBDCommandFlags = [], command: NBDCommand, handle: UInt64, offset: UInt64, length: UInt32) {
        self.flags = flags
        self.command = command
        self.handle = handle
        self.offset = offset
        self.length = length
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(NBDMagic.request)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(command.rawValue)
        buffer.writeInteger(handle)
        buffer.writeInteger(offset)
        buffer.writeInteger(length)
    }

    /// The header only (nil until 28 bytes are there); a write's data is the caller's to take.
    public static func parse(_ buffer: inout ByteBuffer) throws -> Self? {
        guard buffer.readableBytes >= size else { return nil }
        guard buffer.readInteger(as: UInt32.self) == NBDMagic.request else {
            throw NBDProtocolError("a request without its magic")
        }
        return Self(
            flags: NBDCommandFlags(rawValue: buffer.readInteger()!),
            command: NBDCommand(rawValue: buffer.readInteger()!),
            handle: buffer.readInteger()!, offset: buffer.readInteger()!, length: buffer.readInteger()!)
    }
}

/// S: the simple reply: magic, error, handle (16 bytes), then a read's data.
public struct NBDSimpleReply: Hashable, Sendable {
    public static let size = 16
    public var error: NBDErrno
    public var handle: UInt64

    public init(error: NBDErrno, handle: UInt64) {
        self.error = error
        self.handle = handle
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(NBDMagic.simpleReply)
        buffer.writeInteger(error.rawValue)
        buffer.writeInteger(handle)
    }

    public static func parse(_ buffer: inout ByteBuffer) throws -> Self? {
        guard buffer.readableBytes >= size else { return nil }
        guard buffer.readInteger(as: UInt32.self) == NBDMagic.simpleReply else {
            throw NBDProtocolError("a reply without its magic")
        }
        return Self(error: NBDErrno(rawValue: buffer.readInteger()!), handle: buffer.readInteger()!)
    }
}
