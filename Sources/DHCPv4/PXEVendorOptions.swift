import NIOCore

/// The PXE sub-options carried in option 43 when option 60 is `PXEClient`
/// (PXE 2.1 specification §2.4, table 2-1; referenced by RFC 4578 §2.4).
/// Kept as an ordered code/value list like the top-level options.
public struct PXEVendorOptions: Hashable, Sendable {
    public var suboptions: [DHCPOption]

    public init(_ suboptions: [DHCPOption] = []) { self.suboptions = suboptions }

    public init(parsing data: [UInt8]) throws(DHCPParseError) {
        var buffer = ByteBuffer(bytes: data)
        do {
            self.suboptions = try DHCPOptionArea.parse(&buffer, base: 0).options.filter { $0.code != .pad }
        } catch {
            throw .malformedOption(code: DHCPOptionCode.vendorSpecific.rawValue, reason: "PXE sub-options: \(error)")
        }
    }

    public func encode() -> [UInt8] {
        var buffer = ByteBuffer()
        DHCPOptionArea.write(suboptions, to: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    public func value(_ code: PXESuboption) -> [UInt8]? { suboptions.value(DHCPOptionCode(code.rawValue)) }

    public mutating func set(_ code: PXESuboption, _ data: [UInt8]) {
        suboptions.removeAll { $0.code.rawValue == code.rawValue }
        suboptions.append(DHCPOption(DHCPOptionCode(code.rawValue), data))
    }

    /// Sub-option 6.
    public var discoveryControl: PXEDiscoveryControl? {
        get { value(.discoveryControl)?.first.map(PXEDiscoveryControl.init(rawValue:)) }
        set { if let newValue { set(.discoveryControl, [newValue.rawValue]) } }
    }

    /// Sub-option 71: the boot item a client asks the boot server for (type, layer).
    public var bootItem: PXEBootItem? {
        get {
            guard let data = value(.bootItem), data.count == 4 else { return nil }
            return PXEBootItem(
                type: UInt16(data[0]) << 8 | UInt16(data[1]), layer: UInt16(data[2]) << 8 | UInt16(data[3]))
        }
        set { if let newValue { set(.bootItem, newValue.encode()) } }
    }
}

/// PXE 2.1 §2.4 table 2-1: sub-option tags inside option 43.
public struct PXESuboption: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let mtftpIPAddress = Self(rawValue: 1)
    public static let discoveryControl = Self(rawValue: 6)
    public static let discoveryMulticastAddress = Self(rawValue: 7)
    public static let bootServers = Self(rawValue: 8)
    public static let bootMenu = Self(rawValue: 9)
    public static let menuPrompt = Self(rawValue: 10)
    public static let bootItem = Self(rawValue: 71)
}

/// PXE 2.1 §2.4 PXE_DISCOVERY_CONTROL bits.
public struct PXEDiscoveryControl: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let disableBroadcast = Self(rawValue: 1 << 0)
    public static let disableMulticast = Self(rawValue: 1 << 1)
    public static let onlyListedServers = Self(rawValue: 1 << 2)
    /// "Skip discovery, use the boot file": boot the file named in this offer directly.
    public static let skipDiscovery = Self(rawValue: 1 << 3)
}

/// PXE 2.1 §2.4 PXE_BOOT_ITEM (sub-option 71): server type and layer.
public struct PXEBootItem: Hashable, Sendable {
    public var type: UInt16
    public var layer: UInt16
    public init(type: UInt16, layer: UInt16) {
        self.type = type
        self.layer = layer
    }
    public func encode() -> [UInt8] {
        [UInt8(type >> 8), UInt8(truncatingIfNeeded: type), UInt8(layer >> 8), UInt8(truncatingIfNeeded: layer)]
    }
    /// Type 0: the PXE bootstrap server.
    public static let bootstrapServerType: UInt16 = 0
}

/// One entry of PXE_BOOT_SERVERS (sub-option 8).
public struct PXEBootServer: Hashable, Sendable {
    public var type: UInt16
    public var addresses: [IPv4Address]
    public init(type: UInt16, addresses: [IPv4Address]) {
        self.type = type
        self.addresses = addresses
    }
    public static func encode(_ servers: [PXEBootServer]) -> [UInt8] {
        servers.flatMap { server in
            [UInt8(server.type >> 8), UInt8(truncatingIfNeeded: server.type), UInt8(server.addresses.count)]
                + server.addresses.flatMap(\.octets)
        }
    }
}

/// One entry of PXE_BOOT_MENU (sub-option 9).
public struct PXEMenuItem: Hashable, Sendable {
    public var type: UInt16
    public var description: String
    public init(type: UInt16, description: String) {
        self.type = type
        self.description = description
    }
    public static func encode(_ items: [PXEMenuItem]) -> [UInt8] {
        items.flatMap { item in
            let text = Array(item.description.utf8.prefix(255))
            return [UInt8(item.type >> 8), UInt8(truncatingIfNeeded: item.type), UInt8(text.count)] + text
        }
    }
}

/// PXE_MENU_PROMPT (sub-option 10): timeout in seconds (0 = boot the first item now), prompt text.
public struct PXEMenuPrompt: Hashable, Sendable {
    public var timeout: UInt8
    public var prompt: String
    public init(timeout: UInt8, prompt: String) {
        self.timeout = timeout
        self.prompt = prompt
    }
    public func encode() -> [UInt8] { [timeout] + Array(prompt.utf8.prefix(254)) }
}
