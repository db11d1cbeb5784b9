import NIOCore

/// A DHCPv4 / BOOTP message (RFC 2131 §2).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +---------------+---------------+---------------+---------------+
/// |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
/// +---------------+---------------+---------------+---------------+
/// |                            xid (4)                            |
/// +-------------------------------+-------------------------------+
/// |           secs (2)            |           flags (2)           |
/// +-------------------------------+-------------------------------+
/// |  ciaddr (4) | yiaddr (4) | siaddr (4) | giaddr (4)            |
/// +---------------------------------------------------------------+
/// |  chaddr (16) | sname (64) | file (128)                        |
/// +---------------------------------------------------------------+
/// |  magic cookie 99.130.83.99 (4) | options (variable)           |
/// +---------------------------------------------------------------+
/// ```
///
/// `options` holds the options field as it was on the wire. When option 52 (overload) moves
/// options into `file` / `sname`, those stay as raw bytes (so the message re-encodes exactly) and
/// their parsed options are in `overloadedOptions`; look options up with `option(_:)`, which
/// searches every area.
public struct DHCPMessage: Hashable, Sendable {
    public var op: BOOTPOpCode
    public var htype: UInt8
    public var hlen: UInt8
    public var hops: UInt8
    public var xid: UInt32
    public var secs: UInt16
    public var flags: UInt16
    public var ciaddr: IPv4Address
    public var yiaddr: IPv4Address
    public var siaddr: IPv4Address
    public var giaddr: IPv4Address
    /// Always 16 octets; the first `hlen` are the address.
    public var chaddr: [UInt8]
    /// Always 64 octets.
    public var sname: [UInt8]
    /// Always 128 octets.
    public var file: [UInt8]
    public var options: [DHCPOption]
    /// Options carried in `file` and `sname` under option 52, in that order (RFC 2131 §4.1).
    public private(set) var overloadedOptions: [DHCPOption]
    /// Zero octets written after the end option (BOOTP relays and old PXE ROMs expect ≥ 300 octets).
    public var trailingPadding: Int

    /// RFC 2131 §2: the broadcast bit of `flags`.
    public static let broadcastFlag: UInt16 = 0x8000
    /// RFC 2131 §3.
    public static let magicCookie: UInt32 = 0x6382_5363
    /// Fixed header plus cookie.
    public static let headerLength = 240
    /// RFC 1542 §2.1: a BOOTP message is at least 300 octets.
    public static let minimumBOOTPLength = 300

    public init(
        op: BOOTPOpCode, xid: UInt32, chaddr: HardwareAddress, htype: UInt8 = HardwareType.ethernet,
        secs: UInt16 = 0, flags: UInt16 = 0,
        ciaddr: IPv4Address = .any, yiaddr: IPv4Address = .any, siaddr: IPv4Address = .any, giaddr: IPv4Address = .any,
        options: [DHCPOption] = []
    ) {
        self.op = op
        self.htype = htype
        self.hlen = UInt8(min(chaddr.bytes.count, 16))
        self.hops = 0
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = ciaddr
        self.yiaddr = yiaddr
        self.siaddr = siaddr
        self.giaddr = giaddr
        self.chaddr = Self.field(chaddr.bytes, length: 16)
        self.sname = [UInt8](repeating: 0, count: 64)
        self.file = [UInt8](repeating: 0, count: 128)
        self.options = options
        self.overloadedOptions = []
        self.trailingPadding = 0
    }

    /// The client's hardware address: the first `hlen` octets of `chaddr`.
    public var clientHardwareAddress: HardwareAddress { HardwareAddress(Array(chaddr.prefix(Int(hlen)))) }

    public var isBroadcast: Bool { flags & Self.broadcastFlag != 0 }

    /// `file` as text up to its first NUL, unless option 52 uses it for options.
    public var bootFileName: String {
        get { overloads(.file) ? "" : Self.text(file) }
        set { file = Self.field(Array(newValue.utf8), length: 128) }
    }

    /// `sname` as text up to its first NUL, unless option 52 uses it for options.
    public var serverHostName: String {
        get { overloads(.sname) ? "" : Self.text(sname) }
        set { sname = Self.field(Array(newValue.utf8), length: 64) }
    }

    /// An option's value from any area, repeated instances concatenated (RFC 3396 §7).
    public func option(_ code: DHCPOptionCode) -> [UInt8]? {
        let main = options.value(code)
        let extra = overloadedOptions.value(code)
        switch (main, extra) {
        case (nil, nil): return nil
        case (let value?, nil), (nil, let value?): return value
        case (let a?, let b?): return a + b
        }
    }

    /// Replaces every instance of `code` in the options field with one carrying `data`, in place of
    /// the first, or appended.
    public mutating func setOption(_ code: DHCPOptionCode, _ data: [UInt8]) {
        if let first = options.firstIndex(where: { $0.code == code }) {
            options[first].data = data
            var index = options.index(after: first)
            while index < options.endIndex {
                if options[index].code == code { options.remove(at: index) } else { index += 1 }
            }
        } else {
            options.append(DHCPOption(code, data))
        }
    }

    private func overloads(_ area: OverloadArea) -> Bool {
        guard let value = options.value(.overload)?.first else { return false }
        return value & area.rawValue != 0
    }

    static func field(_ bytes: [UInt8], length: Int) -> [UInt8] {
        Array(bytes.prefix(length)) + [UInt8](repeating: 0, count: max(0, length - bytes.count))
    }

    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// RFC 951 §3 `op`.
public struct BOOTPOpCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bootRequest = Self(rawValue: 1)
    public static let bootReply = Self(rawValue: 2)
}

/// IANA ARP hardware types (RFC 1700), used in `htype`.
public enum HardwareType {
    public static let ethernet: UInt8 = 1
}

/// RFC 2132 §9.3: which fixed fields carry options.
struct OverloadArea: OptionSet {
    var rawValue: UInt8
    static let file = Self(rawValue: 1)
    static let sname = Self(rawValue: 2)
}

extension DHCPMessage {
    /// Parses a whole datagram.
    public init(parsing buffer: ByteBuffer) throws(DHCPParseError) {
        var buffer = buffer
        try self.init(parsing: &buffer)
    }

    public init(parsing buffer: inout ByteBuffer) throws(DHCPParseError) {
        let total = buffer.readableBytes
        guard total >= Self.headerLength,
            let op = buffer.readInteger(as: UInt8.self),
            let htype = buffer.readInteger(as: UInt8.self),
            let hlen = buffer.readInteger(as: UInt8.self),
            let hops = buffer.readInteger(as: UInt8.self),
            let xid = buffer.readInteger(as: UInt32.self),
            let secs = buffer.readInteger(as: UInt16.self),
            let flags = buffer.readInteger(as: UInt16.self),
            let ciaddr = buffer.readInteger(as: UInt32.self),
            let yiaddr = buffer.readInteger(as: UInt32.self),
            let siaddr = buffer.readInteger(as: UInt32.self),
            let giaddr = buffer.readInteger(as: UInt32.self),
            let chaddr = buffer.readBytes(length: 16),
            let sname = buffer.readBytes(length: 64),
            let file = buffer.readBytes(length: 128),
            let cookie = buffer.readInteger(as: UInt32.self)
        else { throw .truncatedHeader(length: total) }
        guard cookie == Self.magicCookie else { throw .badMagicCookie(offset: 236) }
        guard hlen <= 16 else { throw .badHardwareAddressLength(Int(hlen)) }

        let (options, trailing) = try DHCPOptionArea.parse(&buffer, base: Self.headerLength)
        self.op = BOOTPOpCode(rawValue: op)
        self.htype = htype
        self.hlen = hlen
        self.hops = hops
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = IPv4Address(rawValue: ciaddr)
        self.yiaddr = IPv4Address(rawValue: yiaddr)
        self.siaddr = IPv4Address(rawValue: siaddr)
        self.giaddr = IPv4Address(rawValue: giaddr)
        self.chaddr = chaddr
        self.sname = sname
        self.file = file
        self.options = options
        self.trailingPadding = trailing
        self.overloadedOptions = []

        if let overload = options.value(.overload) {
            guard overload.count == 1, (1...3).contains(overload[0]) else {
                throw .badOverload(value: overload.first ?? 0)
            }
            let areas = OverloadArea(rawValue: overload[0])
            if areas.contains(.file) {
                var area = ByteBuffer(bytes: file)
                overloadedOptions += try DHCPOptionArea.parse(&area, base: 108).options
            }
            if areas.contains(.sname) {
                var area = ByteBuffer(bytes: sname)
                overloadedOptions += try DHCPOptionArea.parse(&area, base: 44).options
            }
        }
    }

    /// Writes the message; pads with zeros to `minimumLength` (use `minimumBOOTPLength` for replies).
    public func encode(into buffer: inout ByteBuffer, minimumLength: Int = 0) {
        let start = buffer.writerIndex
        buffer.writeInteger(op.rawValue)
        buffer.writeInteger(htype)
        buffer.writeInteger(hlen)
        buffer.writeInteger(hops)
        buffer.writeInteger(xid)
        buffer.writeInteger(secs)
        buffer.writeInteger(flags)
        buffer.writeInteger(ciaddr.rawValue)
        buffer.writeInteger(yiaddr.rawValue)
        buffer.writeInteger(siaddr.rawValue)
        buffer.writeInteger(giaddr.rawValue)
        buffer.writeBytes(Self.field(chaddr, length: 16))
        buffer.writeBytes(Self.field(sname, length: 64))
        buffer.writeBytes(Self.field(file, length: 128))
        buffer.writeInteger(Self.magicCookie)
        DHCPOptionArea.write(options, to: &buffer)
        let written = buffer.writerIndex - start
        let padding = max(trailingPadding, minimumLength - written)
        if padding > 0 { buffer.writeRepeatingByte(0, count: padding) }
    }

    public func encoded(minimumLength: Int = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(max(minimumLength, 576))
        encode(into: &buffer, minimumLength: minimumLength)
        return buffer
    }
}
