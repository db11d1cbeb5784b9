/// RFC 4578 §2.2 Client Network Interface Identifier (option 94): UNDI type 1 and its version.
public struct ClientNetworkInterface: Hashable, Sendable {
    public var type: UInt8
    public var major: UInt8
    public var minor: UInt8

    public init(type: UInt8 = 1, major: UInt8, minor: UInt8) {
        self.type = type
        self.major = major
        self.minor = minor
    }

    public init(parsing data: [UInt8]) throws(DHCPParseError) {
        guard data.count == 3 else {
            throw .malformedOption(
                code: DHCPOptionCode.clientNetworkInterface.rawValue, reason: "length \(data.count), expected 3")
        }
        self.init(type: data[0], major: data[1], minor: data[2])
    }

    public func encode() -> [UInt8] { [type, major, minor] }
}

/// RFC 4578 §2.3 Client Machine Identifier (option 97): type 0 and a 16-octet GUID/UUID.
public struct ClientMachineIdentifier: Hashable, Sendable, CustomStringConvertible {
    public var type: UInt8
    public var guid: [UInt8]

    public init(type: UInt8 = 0, guid: [UInt8]) {
        self.type = type
        self.guid = guid
    }

    public init(parsing data: [UInt8]) throws(DHCPParseError) {
        guard data.count == 17 else {
            throw .malformedOption(
                code: DHCPOptionCode.clientMachineIdentifier.rawValue, reason: "length \(data.count), expected 17")
        }
        self.init(type: data[0], guid: Array(data[1...]))
    }

    public func encode() -> [UInt8] { [type] + guid }

    /// Canonical UUID text. PXE sends the SMBIOS UUID with its first three fields little-endian
    /// (as SMBIOS 2.6+ stores them); this prints it as firmware setup screens and `dmidecode` do.
    public var description: String {
        guard guid.count == 16 else { return guid.map { String($0, radix: 16) }.joined() }
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        let hex = order.map { index -> String in
            let digits = String(guid[index], radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(
            separator: "-")
    }
}
