/// The NBD protocol's numbers (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md,
/// "fixed newstyle" negotiation; the only form Linux's nbd-client and QEMU still speak).
public enum NBDMagic {
    /// `NBDMAGIC`: the server's first eight bytes.
    public static let greeting: UInt64 = 0x4E42_444D_4147_4943
    /// `IHAVEOPT`: after the greeting, and before every option the client sends.
    public static let option: UInt64 = 0x4948_4156_454F_5054
    public static let optionReply: UInt64 = 0x0003_E889_0455_65A9
    public static let request: UInt32 = 0x2560_9513
    public static let simpleReply: UInt32 = 0x6744_6698
}

/// The greeting's handshake flags and the client's answer (both 16 bits wide on the wire for
/// the server, 32 for the client).
public struct NBDHandshakeFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let fixedNewstyle = Self(rawValue: 1 << 0)
    /// No 124 zero bytes after `NBD_OPT_EXPORT_NAME`'s reply.
    public static let noZeroes = Self(rawValue: 1 << 1)
}

/// Transmission flags: what an export allows, sent with its size.
public struct NBDTransmissionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let hasFlags = Self(rawValue: 1 << 0)
    public static let readOnly = Self(rawValue: 1 << 1)
    public static let sendFlush = Self(rawValue: 1 << 2)
    public static let sendFUA = Self(rawValue: 1 << 3)
    public static let rotational = Self(rawValue: 1 << 4)
    public static let sendTrim = Self(rawValue: 1 << 5)
    public static let sendWriteZeroes = Self(rawValue: 1 << 6)
}

public struct NBDOptionType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Ends negotiation without a reply header: size and flags follow, or the connection closes.
    public static let exportName = Self(rawValue: 1)
    public static let abort = Self(rawValue: 2)
    public static let list = Self(rawValue: 3)
    public static let startTLS = Self(rawValue: 5)
    public static let info = Self(rawValue: 6)
    /// As `info`, then transmission.
    public static let go = Self(rawValue: 7)
    public static let structuredReply = Self(rawValue: 8)
}

public struct NBDReplyType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ack = Self(rawValue: 1)
    public static let server = Self(rawValue: 2)
    public static let info = Self(rawValue: 3)
    private static let error: UInt32 = 1 << 31
    public static let errorUnsupported = Self(rawValue: error | 1)
    public static let errorPolicy = Self(rawValue: error | 2)
    public static let errorInvalid = Self(rawValue: error | 3)
    public static let errorUnknown = Self(rawValue: error | 6)
    public static let errorTooBig = Self(rawValue: error | 9)

    public var isError: Bool { rawValue & Self.error != 0 }
}

/// `NBD_REP_INFO`'s first 16 bits.
public enum NBDInfoType {
    public static let export: UInt16 = 0
    public static let blockSize: UInt16 = 3
}

public struct NBDCommand: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let read = Self(rawValue: 0)
    public static let write = Self(rawValue: 1)
    /// Disconnect: no reply.
    public static let disconnect = Self(rawValue: 2)
    public static let flush = Self(rawValue: 3)
    public static let trim = Self(rawValue: 4)
    public static let writeZeroes = Self(rawValue: 6)

    /// The protocol's own (NBD_CMD_CACHE up to NBD_CMD_RESIZE), whether or not a server offers
    /// them: of these only WRITE is followed by data. After a command outside them the stream
    /// cannot be read on (whether data follows is unknown).
    public var isKnown: Bool { rawValue <= 8 }
}

public struct NBDCommandFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Force unit access: on stable storage before the reply.
    public static let fua = Self(rawValue: 1 << 0)
    public static let noHole = Self(rawValue: 1 << 1)
}

/// The errno values a reply carries (the protocol fixes them, whatever the server's platform).
public struct NBDErrno: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let ok = Self(rawValue: 0)
    public static let notPermitted = Self(rawValue: 1)
    public static let io = Self(rawValue: 5)
    public static let noMemory = Self(rawValue: 12)
    public static let invalid = Self(rawValue: 22)
    public static let noSpace = Self(rawValue: 28)
    public static let overflow = Self(rawValue: 75)
    public static let notSupported = Self(rawValue: 95)
    public static let shutdown = Self(rawValue: 108)
}
