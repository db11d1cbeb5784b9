import Crypto
import DHCPv4
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import VBootStore

/// One boot's credential. vboot renders it into the machine's boot script (`boot_token`) and
/// what that boot runs presents it back: the NBD root's export name is `IMAGE/MAC/TOKEN`.
///
/// A token is the moment vboot rendered the script and an HMAC of it with the MAC, keyed by a
/// secret kept in DATA_DIR: only vboot makes them, so a token names one boot of one machine
/// without a record of it. Whoever else asks for a script in the machine's name (anyone may,
/// and a TFTP request's source address is forgeable) gets a token of their own; the boot that
/// is running keeps presenting the one it was given.
struct BootTokens: Sendable {
    static let fileName = "boot-token.key"
    /// 16 hex digits of the time (milliseconds since 1970), 32 of the HMAC's first 16 bytes;
    /// lowercase only, so one boot has one spelling.
    static let length = 48
    private static let tagBytes = 16
    /// Says what the HMAC is of, so the key could sign something else without confusion.
    private static let purpose = Array("vboot boot token\0".utf8)

    private let key: SymmetricKey
    /// The latest time issued or accepted: a clock stepped back must not make a new boot look
    /// older than the one before it (the layer table refuses earlier boots).
    private let latest: NIOLockedValueBox<UInt64>
    /// Every token this process issues is later than this, whatever the clock does.
    let startedAt: UInt64

    init(key: SymmetricKey, now: UInt64 = WallClock.millisecondsNow) {
        self.key = key
        startedAt = now
        latest = NIOLockedValueBox(now)
    }

    /// A fresh random key, for a server without a data directory: its tokens end with the
    /// process (tests and embedders; `vboot serve` always has one).
    static func ephemeral() -> BootTokens { BootTokens(key: SymmetricKey(size: .bits256)) }

    /// The key in `DATA_DIR/boot-token.key`, made on first use.
    static func loadOrCreate(dataDirectory: String, logger: Logger) throws -> BootTokens {
        let path = dataDirectory + "/" + fileName
        for _ in 0..<2 {
            if let key = try readKey(path) {
                PrivateFiles.tighten(file: path, logger: logger)
                return BootTokens(key: key)
            }
            let key = SymmetricKey(size: .bits256)
            let hex = key.withUnsafeBytes { Self.hex(Array($0)) }
            switch PrivateFiles.create(path, contents: hex + "\n") {
            case nil:
                logger.notice("boot token key generated in \(path) (mode 0600)")
                return BootTokens(key: key)
            case EEXIST?: continue  // another vboot made it first: read theirs
            case let failure?: throw StartupError("cannot write \(path): \(String(cString: strerror(failure)))")
            }
        }
        throw StartupError("cannot read or make \(path)")
    }

    /// The key in `path`; nil when there is no such file.
    private static func readKey(_ path: String) throws -> SymmetricKey? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw StartupError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = Glibc.read(descriptor, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Self.bytes(hex: text), bytes.count == 32 else {
            throw StartupError(
                "\(path) must hold 64 hex digits (a 256-bit key); remove it to make a new one (the machines running on diskless-nbd must then reboot)"
            )
        }
        return SymmetricKey(data: bytes)
    }

    /// A token for the boot whose script is rendered now.
    func issue(mac: HardwareAddress, now: UInt64 = WallClock.millisecondsNow) -> String {
        let time = latest.withLockedValue { latest in
            latest = max(now, latest &+ 1)
            return latest
        }
        return token(mac: mac, time: time)
    }

    func token(mac: HardwareAddress, time: UInt64) -> String {
        withUnsafeBytes(of: time.bigEndian) { Self.hex(Array($0)) } + Self.hex(tag(mac: mac, time: time))
    }

    /// The token's time when vboot issued it for this MAC; nil for anything else.
    func verify(_ token: String, mac: HardwareAddress) -> UInt64? {
        guard token.utf8.count == Self.length, let bytes = Self.bytes(hex: token) else { return nil }
        let time = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // Every byte compared, whatever the first difference: no timing to learn the tag from.
        let difference = zip(bytes.dropFirst(8), tag(mac: mac, time: time)).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) }
        guard difference == 0 else { return nil }
        latest.withLockedValue { $0 = max($0, time) }
        return time
    }

    private func tag(mac: HardwareAddress, time: UInt64) -> [UInt8] {
        var message = Self.purpose + mac.bytes
        withUnsafeBytes(of: time.bigEndian) { message += $0 }
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key).prefix(Self.tagBytes))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

extension WallClock {
    /// Milliseconds since 1970, the unit of a boot token's time.
    static var millisecondsNow: UInt64 { UInt64(max(0, microsecondsNow()) / 1000) }
}
