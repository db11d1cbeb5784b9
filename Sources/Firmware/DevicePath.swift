/// UEFI 2.10 §10.3 EFI_DEVICE_PATH_PROTOCOL node: Type u8, SubType u8, Length u16 (header
/// included), then `data`. Kept raw so unknown nodes survive a round trip; `value` adds meaning.
public struct DevicePathNode: Hashable, Sendable {
    public static let headerSize = 4

    public var type: UInt8
    public var subType: UInt8
    /// The bytes after the 4-byte header.
    public var data: [UInt8]

    public init(type: UInt8, subType: UInt8, data: [UInt8]) {
        self.type = type
        self.subType = subType
        self.data = data
    }

    public func encoded() -> [UInt8] {
        var bytes = [type, subType]
        ByteCursor.append(UInt16(Self.headerSize + data.count), to: &bytes)
        return bytes + data
    }

    public var isEnd: Bool { type == DevicePathType.end }
    public var isEndEntire: Bool { type == DevicePathType.end && subType == DevicePathSubType.endEntire }
}

/// UEFI 2.10 §10.3.1 device path Type values.
public enum DevicePathType {
    public static let hardware: UInt8 = 0x01
    public static let acpi: UInt8 = 0x02
    public static let messaging: UInt8 = 0x03
    public static let media: UInt8 = 0x04
    public static let bbs: UInt8 = 0x05
    public static let end: UInt8 = 0x7F
}

/// UEFI 2.10 §10.3 Sub-Type values of the nodes vboot reads or writes.
public enum DevicePathSubType {
    /// Hardware: PCI.
    public static let pci: UInt8 = 0x01
    /// ACPI: ACPI_DP (HID, UID).
    public static let acpi: UInt8 = 0x01
    /// Messaging: MAC address.
    public static let macAddress: UInt8 = 0x0B
    /// Messaging: IPv4.
    public static let ipv4: UInt8 = 0x0C
    /// Messaging: URI.
    public static let uri: UInt8 = 0x18
    /// Media: file path.
    public static let filePath: UInt8 = 0x04
    /// Media: PIWG firmware file (MEDIA_PIWG_FW_FILE_DP).
    public static let firmwareFile: UInt8 = 0x06
    /// Media: PIWG firmware volume (MEDIA_PIWG_FW_VOL_DP).
    public static let firmwareVolume: UInt8 = 0x07
    /// BBS: BBS 1.01.
    public static let bbs101: UInt8 = 0x01
    /// End: end of this instance, another follows.
    public static let endInstance: UInt8 = 0x01
    /// End: end of the whole device path.
    public static let endEntire: UInt8 = 0xFF
}

extension DevicePathNode {
    /// The meaning of the nodes vboot knows (`value` is nil for others and for malformed known ones).
    public enum Value: Hashable, Sendable {
        /// ACPI HID/UID; PciRoot(uid) when hid is PNP0A03.
        case acpi(hid: UInt32, uid: UInt32)
        case pci(device: UInt8, function: UInt8)
        /// MAC address (32 bytes on the wire, zero-padded) and RFC 3232 ifType (1 = Ethernet).
        case macAddress(address: [UInt8], interfaceType: UInt8)
        case ipv4(IPv4)
        case uri(String)
        case filePath(String)
        case firmwareFile(EFIGUID)
        case firmwareVolume(EFIGUID)
        case bbs(deviceType: UInt16, statusFlag: UInt16, description: [UInt8])
        case endInstance
        case endEntire
    }

    /// UEFI 2.10 §10.3.4.12 IPv4 device path (27 bytes; UEFI 2.0 nodes stop before GatewayIpAddress).
    public struct IPv4: Hashable, Sendable {
        public static let length = 27
        /// UEFI 2.0 IPv4 nodes have no gateway and subnet mask.
        public static let legacyLength = 19
        public var localAddress: [UInt8] = [0, 0, 0, 0]
        public var remoteAddress: [UInt8] = [0, 0, 0, 0]
        public var localPort: UInt16 = 0
        public var remotePort: UInt16 = 0
        /// IANA protocol number (6 TCP, 17 UDP).
        public var `protocol`: UInt16 = 0
        /// false: address from DHCP.
        public var staticAddress: Bool = false
        /// nil in a 19-byte UEFI 2.0 node.
        public var gatewayAddress: [UInt8]? = [0, 0, 0, 0]
        public var subnetMask: [UInt8]? = [0, 0, 0, 0]

        /// All zero: "get an address with DHCP", as EDK2 HTTP boot options and virt-fw-vars write.
        public static let dhcp = IPv4()
        public init() {}
    }

    /// EISA PNP ID of a PCI root bridge (PNP0A03), as EISA_PNP_ID(0x0A03).
    public static let pciRootHID: UInt32 = 0x0A03_41D0

    public init(_ value: Value) {
        switch value {
        case .acpi(let hid, let uid):
            var data: [UInt8] = []
            ByteCursor.append(hid, to: &data)
            ByteCursor.append(uid, to: &data)
            self.init(type: DevicePathType.acpi, subType: DevicePathSubType.acpi, data: data)
        case .pci(let device, let function):
            self.init(type: DevicePathType.hardware, subType: DevicePathSubType.pci, data: [function, device])
        case .macAddress(let address, let interfaceType):
            let padded = Array((address + [UInt8](repeating: 0, count: 32)).prefix(32))
            self.init(
                type: DevicePathType.messaging, subType: DevicePathSubType.macAddress, data: padded + [interfaceType])
        case .ipv4(let node):
            var data = node.localAddress + node.remoteAddress
            ByteCursor.append(node.localPort, to: &data)
            ByteCursor.append(node.remotePort, to: &data)
            ByteCursor.append(node.protocol, to: &data)
            data.append(node.staticAddress ? 1 : 0)
            if let gateway = node.gatewayAddress, let mask = node.subnetMask { data += gateway + mask }
            self.init(type: DevicePathType.messaging, subType: DevicePathSubType.ipv4, data: data)
        case .uri(let uri):
            self.init(type: DevicePathType.messaging, subType: DevicePathSubType.uri, data: Array(uri.utf8))
        case .filePath(let path):
            var data: [UInt8] = []
            for unit in path.utf16 { ByteCursor.append(unit, to: &data) }
            self.init(type: DevicePathType.media, subType: DevicePathSubType.filePath, data: data + [0, 0])
        case .firmwareFile(let guid):
            self.init(type: DevicePathType.media, subType: DevicePathSubType.firmwareFile, data: guid.bytes)
        case .firmwareVolume(let guid):
            self.init(type: DevicePathType.media, subType: DevicePathSubType.firmwareVolume, data: guid.bytes)
        case .bbs(let deviceType, let statusFlag, let description):
            var data: [UInt8] = []
            ByteCursor.append(deviceType, to: &data)
            ByteCursor.append(statusFlag, to: &data)
            self.init(type: DevicePathType.bbs, subType: DevicePathSubType.bbs101, data: data + description + [0])
        case .endInstance:
            self.init(type: DevicePathType.end, subType: DevicePathSubType.endInstance, data: [])
        case .endEntire:
            self.init(type: DevicePathType.end, subType: DevicePathSubType.endEntire, data: [])
        }
    }

    public static let end = DevicePathNode(.endEntire)

    public var value: Value? {
        func u16(_ at: Int) -> UInt16 { UInt16(data[at]) | UInt16(data[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        switch (type, subType) {
        case (DevicePathType.acpi, DevicePathSubType.acpi) where data.count == 8:
            return .acpi(hid: u32(0), uid: u32(4))
        case (DevicePathType.hardware, DevicePathSubType.pci) where data.count == 2:
            return .pci(device: data[1], function: data[0])
        case (DevicePathType.messaging, DevicePathSubType.macAddress) where data.count == 33:
            return .macAddress(address: Array(data[0..<32]), interfaceType: data[32])
        case (DevicePathType.messaging, DevicePathSubType.ipv4)
        where data.count == IPv4.length - Self.headerSize || data.count == IPv4.legacyLength - Self.headerSize:
            var node = IPv4()
            node.localAddress = Array(data[0..<4])
            node.remoteAddress = Array(data[4..<8])
            node.localPort = u16(8)
            node.remotePort = u16(10)
            node.protocol = u16(12)
            node.staticAddress = data[14] != 0
            if data.count == IPv4.length - Self.headerSize {
                node.gatewayAddress = Array(data[15..<19])
                node.subnetMask = Array(data[19..<23])
            } else {
                node.gatewayAddress = nil
                node.subnetMask = nil
            }
            // A BOOLEAN other than 0/1 would not survive re-encoding: keep such a node raw.
            return data[14] <= 1 ? .ipv4(node) : nil
        case (DevicePathType.messaging, DevicePathSubType.uri):
            guard let uri = String(validating: data, as: UTF8.self) else { return nil }
            return .uri(uri)
        case (DevicePathType.media, DevicePathSubType.filePath) where data.count % 2 == 0 && data.count >= 2:
            let units = stride(from: 0, to: data.count, by: 2).map { u16($0) }
            guard units.last == 0, !units.dropLast().contains(0),
                let path = String(validating: units.dropLast(), as: UTF16.self)
            else { return nil }
            return .filePath(path)
        case (DevicePathType.media, DevicePathSubType.firmwareFile) where data.count == 16:
            return .firmwareFile(EFIGUID(bytes: data)!)
        case (DevicePathType.media, DevicePathSubType.firmwareVolume) where data.count == 16:
            return .firmwareVolume(EFIGUID(bytes: data)!)
        case (DevicePathType.bbs, DevicePathSubType.bbs101) where data.count >= 5 && data.last == 0:
            return .bbs(deviceType: u16(0), statusFlag: u16(2), description: Array(data[4..<(data.count - 1)]))
        case (DevicePathType.end, DevicePathSubType.endInstance) where data.isEmpty:
            return .endInstance
        case (DevicePathType.end, DevicePathSubType.endEntire) where data.isEmpty:
            return .endEntire
        default:
            return nil
        }
    }
}

/// A device path as stored in a load option's FilePathList or in ConIn/ConOut: nodes in order,
/// end nodes included, so a multi-instance path round-trips exactly.
public struct DevicePath: Hashable, Sendable, CustomStringConvertible {
    public var nodes: [DevicePathNode]

    /// `nodes` followed by an End Entire node unless the last one already is.
    public init(_ nodes: [DevicePathNode]) {
        self.nodes = nodes
        if nodes.last?.isEndEntire != true { self.nodes.append(.end) }
    }

    /// Parses nodes until `bytes` is used up (End nodes included, as stored).
    public init(parsing bytes: [UInt8], baseOffset: Int = 0) throws(EFILoadOptionError) {
        var nodes: [DevicePathNode] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + DevicePathNode.headerSize <= bytes.count else {
                throw .truncated(
                    field: "DevicePath node header", offset: baseOffset + offset, length: DevicePathNode.headerSize)
            }
            let length = Int(UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8)
            guard length >= DevicePathNode.headerSize else {
                throw .badValue(
                    field: "DevicePath.Length", offset: baseOffset + offset + 2, detail: "\(length) is below 4")
            }
            guard offset + length <= bytes.count else {
                throw .truncated(field: "DevicePath node", offset: baseOffset + offset, length: length)
            }
            nodes.append(
                DevicePathNode(
                    type: bytes[offset], subType: bytes[offset + 1],
                    data: Array(bytes[(offset + DevicePathNode.headerSize)..<(offset + length)])))
            offset += length
        }
        self.nodes = nodes
    }

    public func encoded() -> [UInt8] { nodes.flatMap { $0.encoded() } }

    /// EDK2 DevicePathToText style, e.g. `PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400AA0001,0x1)/Uri(http://x/)`.
    public var description: String {
        var text = ""
        var needsSeparator = false
        for node in nodes {
            switch node.value {
            case .endEntire: continue
            case .endInstance:
                text += ","
                needsSeparator = false
                continue
            default: break
            }
            if needsSeparator { text += "/" }
            text += Self.text(node)
            needsSeparator = true
        }
        return text
    }

    static func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16, uppercase: true) }

    static func text(_ node: DevicePathNode) -> String {
        func dotted(_ address: [UInt8]) -> String { address.map(String.init).joined(separator: ".") }
        switch node.value {
        case .acpi(let hid, let uid):
            if hid == DevicePathNode.pciRootHID { return "PciRoot(\(hex(uid)))" }
            return "Acpi(\(hex(hid)),\(hex(uid)))"
        case .pci(let device, let function):
            return "Pci(\(hex(device)),\(hex(function)))"
        case .macAddress(let address, let interfaceType):
            // DevPathToTextMacAddr: 6 address bytes for ifType 0 (unset) and 1 (Ethernet).
            let count = interfaceType <= 1 ? 6 : 32
            let mac = address.prefix(count).map { String($0, radix: 16, uppercase: true) }
                .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
            return "MAC(\(mac),\(hex(interfaceType)))"
        case .ipv4(let ip):
            let proto =
                switch ip.protocol {
                case 6: "TCP"
                case 17: "UDP"
                default: hex(ip.protocol)
                }
            var text =
                "IPv4(\(dotted(ip.remoteAddress)),\(proto),\(ip.staticAddress ? "Static" : "DHCP"),\(dotted(ip.localAddress))"
            if let gateway = ip.gatewayAddress, let mask = ip.subnetMask {
                text += ",\(dotted(gateway)),\(dotted(mask))"
            }
            return text + ")"
        case .uri(let uri): return "Uri(\(uri))"
        case .filePath(let path): return path
        case .firmwareFile(let guid): return "FvFile(\(guid))"
        case .firmwareVolume(let guid): return "Fv(\(guid))"
        case .bbs(let deviceType, let statusFlag, let description):
            return "BBS(\(hex(deviceType)),\(String(decoding: description, as: UTF8.self)),\(hex(statusFlag)))"
        case .endInstance, .endEntire: return ""
        case nil:
            return "Path(\(node.type),\(node.subType),\(node.data.map { EFIGUID.hexByte($0) }.joined().uppercased()))"
        }
    }
}
