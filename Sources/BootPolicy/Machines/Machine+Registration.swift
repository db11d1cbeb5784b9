import DHCPv4

extension Machine {
    /// Longest serial stored from a client (SMBIOS strings are short; a longer one is junk).
    public static let registeredStringLimit = 64

    /// The record `--unknown-machines register` keeps for a MAC from what its request claimed:
    /// a UUID only if it is one, a serial reduced to the script-safe characters and capped, so
    /// no escape sequence or 3,000-character value reaches the store, the API or a terminal.
    public static func registered(mac: HardwareAddress, uuid: String?, serial: String?) -> Machine {
        let serial = serial.map { BootScriptContext.sanitize($0, limit: registeredStringLimit) }
        return Machine(
            mac: mac, uuid: uuid.flatMap(canonicalUUID), serial: serial.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// RFC 9562 §4 text form, 8-4-4-4-12 hex digits, lower-cased; nil for anything else.
    public static func canonicalUUID(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return nil }
            } else {
                guard
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
                else { return nil }
            }
        }
        return text.lowercased()
    }
}
