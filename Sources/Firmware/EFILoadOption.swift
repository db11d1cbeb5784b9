/// Why a load option, device path or boot order variable could not be read.
public enum EFILoadOptionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `field` needs `length` bytes at `offset` (from the start of the variable data), past its end.
    case truncated(field: String, offset: Int, length: Int)
    /// `field` at `offset` holds a value the format does not allow.
    case badValue(field: String, offset: Int, detail: String)

    public var description: String {
        switch self {
        case .truncated(let field, let offset, let length):
            "\(field): \(length) bytes at offset \(offset) run past the end"
        case .badValue(let field, let offset, let detail):
            "\(field) at offset \(offset): \(detail)"
        }
    }
}

/// UEFI 2.10 §3.1.3 EFI_LOAD_OPTION, the data of a Boot#### (or Driver####, SysPrep####) variable:
/// Attributes u32, FilePathListLength u16, Description (UTF-16LE, NUL-terminated),
/// FilePathList (FilePathListLength bytes of device paths), OptionalData (the rest).
public struct EFILoadOption: Hashable, Sendable {
    /// UEFI 2.10 §3.1.3 LOAD_OPTION_* attribute bits.
    public struct Attributes: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let active = Attributes(rawValue: 0x0000_0001)
        public static let forceReconnect = Attributes(rawValue: 0x0000_0002)
        public static let hidden = Attributes(rawValue: 0x0000_0008)
        /// LOAD_OPTION_CATEGORY mask; 0 = LOAD_OPTION_CATEGORY_BOOT, 0x100 = LOAD_OPTION_CATEGORY_APP.
        public static let categoryMask = Attributes(rawValue: 0x0000_1F00)
        public static let categoryApp = Attributes(rawValue: 0x0000_0100)
    }

    public var attributes: Attributes
    public var description: String
    public var filePathList: DevicePath
    public var optionalData: [UInt8]

    public init(
        attributes: Attributes = .active, description: String, filePathList: DevicePath, optionalData: [UInt8] = []
    ) {
        self.attributes = attributes
        self.description = description
        self.filePathList = filePathList
        self.optionalData = optionalData
    }

    public init(parsing bytes: [UInt8]) throws(EFILoadOptionError) {
        guard bytes.count >= 6 else { throw .truncated(field: "LoadOption header", offset: 0, length: 6) }
        attributes = Attributes(
            rawValue: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let pathLength = Int(UInt16(bytes[4]) | UInt16(bytes[5]) << 8)
        var units: [UInt16] = []
        var offset = 6
        while true {
            guard offset + 2 <= bytes.count else {
                throw .truncated(field: "LoadOption.Description (no NUL)", offset: offset, length: 2)
            }
            let unit = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            offset += 2
            if unit == 0 { break }
            units.append(unit)
        }
        guard let text = String(validating: units, as: UTF16.self) else {
            throw .badValue(field: "LoadOption.Description", offset: 6, detail: "invalid UTF-16")
        }
        description = text
        guard offset + pathLength <= bytes.count else {
            throw .truncated(field: "LoadOption.FilePathList", offset: offset, length: pathLength)
        }
        filePathList = try DevicePath(parsing: Array(bytes[offset..<(offset + pathLength)]), baseOffset: offset)
        optionalData = Array(bytes[(offset + pathLength)...])
    }

    public func encoded() -> [UInt8] {
        let path = filePathList.encoded()
        var bytes: [UInt8] = []
        ByteCursor.append(attributes.rawValue, to: &bytes)
        ByteCursor.append(UInt16(path.count), to: &bytes)
        for unit in description.utf16 { ByteCursor.append(unit, to: &bytes) }
        bytes += [0, 0]
        return bytes + path + optionalData
    }
}

extension EFILoadOption {
    /// The entry `virt-fw-vars --set-boot-uri URL` writes: active, description "netboot " plus the
    /// URL's last path segment, file path `Uri(URL)` alone. EDK2's boot manager expands such a
    /// short-form URI path over every HTTP-capable NIC (BmExpandUriDevicePath).
    public static func uriBoot(_ url: String, description: String? = nil) -> EFILoadOption {
        let lastSegment = url.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? url
        return EFILoadOption(
            description: description ?? "netboot \(lastSegment)", filePathList: DevicePath([DevicePathNode(.uri(url))]))
    }

    /// A full HTTP boot path bound to one NIC, as EDK2's HttpBootDxe builds it:
    /// `PciRoot(uid)/Pci(device,function)/MAC(mac,0x1)/IPv4(0.0.0.0,0x0,DHCP,...)/Uri(url)`, the
    /// IPv4 node all zero (OVMF 2022.11's own "UEFI HTTPv4" options have exactly that node). EDK2
    /// also puts a GUID in OptionalData of the options it creates itself, marking them as
    /// auto-created so BDS may drop them on re-enumeration; this option deliberately has none.
    public static func httpBoot(
        url: String, mac: [UInt8], pciDevice: UInt8, pciFunction: UInt8 = 0, pciRootUID: UInt32 = 0,
        description: String = "vboot HTTP boot"
    ) -> EFILoadOption {
        let nodes = nicIPv4Path(mac: mac, pciDevice: pciDevice, pciFunction: pciFunction, pciRootUID: pciRootUID)
        return EFILoadOption(description: description, filePathList: DevicePath(nodes + [DevicePathNode(.uri(url))]))
    }

    /// RFC 3232 ifType 1, Ethernet, as in EDK2's MAC device path nodes.
    public static let ethernetInterfaceType: UInt8 = 0x01
}

extension EFILoadOption {
    /// A PXE (IPv4) boot entry bound to one NIC, the path EDK2 gives its own "UEFI PXEv4" options:
    /// `PciRoot(uid)/Pci(device,function)/MAC(mac,0x1)/IPv4(0.0.0.0,0x0,DHCP,...)`.
    public static func pxeBoot(
        mac: [UInt8], pciDevice: UInt8, pciFunction: UInt8 = 0, pciRootUID: UInt32 = 0,
        description: String = "vboot PXE boot"
    ) -> EFILoadOption {
        let nodes = nicIPv4Path(mac: mac, pciDevice: pciDevice, pciFunction: pciFunction, pciRootUID: pciRootUID)
        return EFILoadOption(description: description, filePathList: DevicePath(nodes))
    }

    /// `PciRoot(uid)/Pci(device,function)/MAC(mac,0x1)/IPv4(DHCP)`: one NIC's IPv4 stack.
    static func nicIPv4Path(mac: [UInt8], pciDevice: UInt8, pciFunction: UInt8, pciRootUID: UInt32) -> [DevicePathNode]
    {
        [
            DevicePathNode(.acpi(hid: DevicePathNode.pciRootHID, uid: pciRootUID)),
            DevicePathNode(.pci(device: pciDevice, function: pciFunction)),
            DevicePathNode(.macAddress(address: mac, interfaceType: ethernetInterfaceType)),
            DevicePathNode(.ipv4(.dhcp)),
        ]
    }
}
