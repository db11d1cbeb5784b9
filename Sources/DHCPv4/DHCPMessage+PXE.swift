/// Typed views of the options vboot reads and writes. Anything else stays in `options` as bytes.
extension DHCPMessage {
    public var messageType: DHCPMessageType? {
        guard let value = option(.messageType), value.count == 1 else { return nil }
        return DHCPMessageType(rawValue: value[0])
    }

    /// Option 60 as text (`PXEClient:Arch:00007:UNDI:003000`, `HTTPClient…`).
    public var vendorClassIdentifier: String? {
        option(.vendorClassIdentifier).map { String(decoding: $0, as: UTF8.self) }
    }

    public func clientArchitectures() throws(DHCPParseError) -> [ClientArchitecture]? {
        guard let data = option(.clientSystemArchitecture) else { return nil }
        return try ClientArchitecture.parseList(data)
    }

    public var userClass: UserClass? { option(.userClass).map(UserClass.init(parsing:)) }

    public func clientMachineIdentifier() throws(DHCPParseError) -> ClientMachineIdentifier? {
        guard let data = option(.clientMachineIdentifier) else { return nil }
        return try ClientMachineIdentifier(parsing: data)
    }

    public func clientNetworkInterface() throws(DHCPParseError) -> ClientNetworkInterface? {
        guard let data = option(.clientNetworkInterface) else { return nil }
        return try ClientNetworkInterface(parsing: data)
    }

    public func pxeVendorOptions() throws(DHCPParseError) -> PXEVendorOptions? {
        guard let data = option(.vendorSpecific) else { return nil }
        return try PXEVendorOptions(parsing: data)
    }

    public var serverIdentifier: IPv4Address? { option(.serverIdentifier).flatMap(Self.address) }
    public var requestedIPAddress: IPv4Address? { option(.requestedIPAddress).flatMap(Self.address) }

    static func address(_ bytes: [UInt8]) -> IPv4Address? {
        guard bytes.count == 4 else { return nil }
        return IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3])
    }
}
