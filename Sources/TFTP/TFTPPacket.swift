import NIOCore

/// A TFTP packet (RFC 1350 §5, OACK from RFC 2347 §2).
///
/// ```text
///  RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
///  DATA     | 03    | block #  | data (0..blksize octets)
///  ACK      | 04    | block #  |
///  ERROR    | 05    | code     | message | 0 |
///  OACK     | 06    | opt1 | 0 | value1 | 0 | ...
/// ```
public enum TFTPPacket: Hashable, Sendable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    /// `data` is a view into the datagram, not a copy.
    case data(block: UInt16, data: ByteBuffer)
    case acknowledgement(block: UInt16)
    case error(TFTPError)
    case optionAcknowledgement([TFTPOption])
}

/// RFC 1350 §5 opcodes.
public struct TFTPOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let readRequest = Self(rawValue: 1)
    public static let writeRequest = Self(rawValue: 2)
    public static let data = Self(rawValue: 3)
    public static let acknowledgement = Self(rawValue: 4)
    public static let error = Self(rawValue: 5)
    /// RFC 2347 §2.
    public static let optionAcknowledgement = Self(rawValue: 6)
}

/// A read or write request: file, transfer mode and the options it asks for, in order.
public struct TFTPRequest: Hashable, Sendable {
    public var filename: String
    public var mode: String
    public var options: [TFTPOption]

    public init(filename: String, mode: String = "octet", options: [TFTPOption] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }
}

/// One `name=value` pair of RFC 2347. Names compare case-insensitively.
public struct TFTPOption: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An ERROR packet's code and message.
public struct TFTPError: Error, Hashable, Sendable {
    public var code: TFTPErrorCode
    public var message: String
    public init(_ code: TFTPErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// RFC 1350 appendix error codes, plus 8 from RFC 2347 §2.
public struct TFTPErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let notDefined = Self(rawValue: 0)
    public static let fileNotFound = Self(rawValue: 1)
    public static let accessViolation = Self(rawValue: 2)
    public static let diskFull = Self(rawValue: 3)
    public static let illegalOperation = Self(rawValue: 4)
    public static let unknownTransferID = Self(rawValue: 5)
    public static let fileExists = Self(rawValue: 6)
    public static let noSuchUser = Self(rawValue: 7)
    public static let optionNegotiationFailed = Self(rawValue: 8)
    public var description: String { String(rawValue) }
}

/// Why a datagram is not a TFTP packet.
public enum TFTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated(field: String, offset: Int)
    case unknownOpcode(UInt16)
    case unterminatedString(field: String, offset: Int)
    /// An option name with no value after it (RFC 2347 §2 pairs them).
    case danglingOption(name: String)

    public var description: String {
        switch self {
        case .truncated(let field, let offset): "truncated \(field) at offset \(offset)"
        case .unknownOpcode(let opcode): "unknown opcode \(opcode)"
        case .unterminatedString(let field, let offset): "\(field) at offset \(offset) has no NUL terminator"
        case .danglingOption(let name): "option \(name) has no value"
        }
    }
}

extension TFTPPacket {
    public init(parsing buffer: ByteBuffer) throws(TFTPParseError) {
        var buffer = buffer
        let start = buffer.readerIndex
        guard let opcode = buffer.readInteger(as: UInt16.self) else { throw .truncated(field: "opcode", offset: 0) }
        switch TFTPOpcode(rawValue: opcode) {
        case .readRequest, .writeRequest:
            let filename = try Self.readString(&buffer, field: "filename", start: start)
            let mode = try Self.readString(&buffer, field: "mode", start: start)
            let request = TFTPRequest(
                filename: filename, mode: mode, options: try Self.readOptions(&buffer, start: start))
            self = opcode == TFTPOpcode.readRequest.rawValue ? .readRequest(request) : .writeRequest(request)
        case .data:
            guard let block = buffer.readInteger(as: UInt16.self) else { throw .truncated(field: "block", offset: 2) }
            self = .data(block: block, data: buffer)
        case .acknowledgement:
            guard let block = buffer.readInteger(as: UInt16.self) else { throw .truncated(field: "block", offset: 2) }
            self = .acknowledgement(block: block)
        case .error:
            guard let code = buffer.readInteger(as: UInt16.self) else {
                throw .truncated(field: "error code", offset: 2)
            }
            // Some clients omit the message's NUL; accept what is there.
            let message =
                (try? Self.readString(&buffer, field: "message", start: start))
                ?? buffer.readString(length: buffer.readableBytes) ?? ""
            self = .error(TFTPError(TFTPErrorCode(rawValue: code), message))
        case .optionAcknowledgement:
            self = .optionAcknowledgement(try Self.readOptions(&buffer, start: start))
        default:
            throw .unknownOpcode(opcode)
        }
    }

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .readRequest(let request), .writeRequest(let request):
            let opcode: TFTPOpcode = if case .readRequest = self { .readRequest } else { .writeRequest }
            buffer.writeInteger(opcode.rawValue)
            Self.writeString(request.filename, to: &buffer)
            Self.writeString(request.mode, to: &buffer)
            Self.writeOptions(request.options, to: &buffer)
        case .data(let block, let data):
            buffer.writeInteger(TFTPOpcode.data.rawValue)
            buffer.writeInteger(block)
            buffer.writeImmutableBuffer(data)
        case .acknowledgement(let block):
            buffer.writeInteger(TFTPOpcode.acknowledgement.rawValue)
            buffer.writeInteger(block)
        case .error(let error):
            buffer.writeInteger(TFTPOpcode.error.rawValue)
            buffer.writeInteger(error.code.rawValue)
            Self.writeString(error.message, to: &buffer)
        case .optionAcknowledgement(let options):
            buffer.writeInteger(TFTPOpcode.optionAcknowledgement.rawValue)
            Self.writeOptions(options, to: &buffer)
        }
    }

    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    private static func readString(
        _ buffer: inout ByteBuffer, field: String, start: Int
    ) throws(TFTPParseError) -> String {
        let offset = buffer.readerIndex - start
        guard let nul = buffer.readableBytesView.firstIndex(of: 0) else {
            throw .unterminatedString(field: field, offset: offset)
        }
        let length = nul - buffer.readerIndex
        let text = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        return text
    }

    private static func readOptions(_ buffer: inout ByteBuffer, start: Int) throws(TFTPParseError) -> [TFTPOption] {
        var options: [TFTPOption] = []
        while buffer.readableBytes > 0 {
            // Trailing NUL padding after the last pair is seen from some clients; stop at it.
            if buffer.readableBytesView.allSatisfy({ $0 == 0 }) { break }
            let name = try readString(&buffer, field: "option name", start: start)
            guard buffer.readableBytes > 0 else { throw .danglingOption(name: name) }
            let value = try readString(&buffer, field: "option \(name)", start: start)
            options.append(TFTPOption(name, value))
        }
        return options
    }

    private static func writeString(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeString(text)
        buffer.writeInteger(UInt8(0))
    }

    private static func writeOptions(_ options: [TFTPOption], to buffer: inout ByteBuffer) {
        for option in options {
            writeString(option.name, to: &buffer)
            writeString(option.value, to: &buffer)
        }
    }
}
