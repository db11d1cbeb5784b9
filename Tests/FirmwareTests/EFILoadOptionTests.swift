import Firmware
import Testing

@Suite("EFI load options, device paths, BootOrder")
struct EFILoadOptionTests {
    /// Every Boot#### OVMF wrote parses and re-encodes to the same bytes.
    @Test(arguments: ["booted", "booted-net"])
    func ovmfLoadOptionsRoundTrip(_ name: String) throws {
        let store = try VariableStoreFixture.store(name)
        let boot = store.variables.filter {
            EFIBootOrder.bootOptionNumber($0.name) != nil && $0.guid == .globalVariable
        }
        #expect(boot.count >= 3)
        for variable in boot {
            let option = try EFILoadOption(parsing: variable.data)
            #expect(option.encoded() == variable.data, "\(variable.name)")
            #expect(option.attributes.contains(.active))
        }
        for console in ["ConIn", "ConOut", "ErrOut"] {
            let variable = try #require(store.variable(named: console, guid: .globalVariable))
            #expect(try DevicePath(parsing: variable.data).encoded() == variable.data)
        }
    }

    /// What OVMF 2022.11 creates for a virtio-net NIC at 00:02.0 (booted-net), in EDK2's text form.
    @Test(
        arguments: [
            (0, "UiApp", "Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)"),
            (
                2, "EFI Internal Shell",
                "Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(7c04a583-9e3e-4f1c-ad65-e05268d0b4d1)"
            ),
            (
                3, "UEFI PXEv4 (MAC:525400AA0001)",
                "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400AA0001,0x1)/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)"
            ),
            (
                5, "UEFI HTTPv4 (MAC:525400AA0001)",
                "PciRoot(0x0)/Pci(0x2,0x0)/MAC(525400AA0001,0x1)/IPv4(0.0.0.0,0x0,DHCP,0.0.0.0,0.0.0.0,0.0.0.0)/Uri()"
            ),
        ] as [(UInt16, String, String)])
    func ovmfNetworkOptionsAsText(_ number: UInt16, _ description: String, _ path: String) throws {
        let store = try VariableStoreFixture.store("booted-net")
        let option = try #require(try store.loadOption(number))
        #expect(option.description == description)
        #expect(option.filePathList.description == path)
    }

    @Test func unknownNodesStayRaw() throws {
        let store = try VariableStoreFixture.store("booted-net")
        let option = try #require(try store.loadOption(4))  // PXEv6: IPv6 node (3/13) is not modelled
        let ipv6 = try #require(
            option.filePathList.nodes.first { $0.type == DevicePathType.messaging && $0.subType == 0x0D })
        #expect(ipv6.value == nil)
        #expect(option.filePathList.description.contains("/Path(3,13,"))
        // EDK2's marker for options BDS created itself (OptionalData = a GUID).
        #expect(option.optionalData.count == 16)
    }

    @Test func nodeValuesRoundTrip() throws {
        let values: [DevicePathNode.Value] = [
            .acpi(hid: DevicePathNode.pciRootHID, uid: 0),
            .pci(device: 0x1F, function: 2),
            .macAddress(address: [0x52, 0x54, 0, 0xAA, 0, 1] + [UInt8](repeating: 0, count: 26), interfaceType: 1),
            .ipv4(.dhcp),
            .uri("http://10.0.0.2/boot.ipxe"),
            .filePath("\\EFI\\BOOT\\BOOTX64.EFI"),
            .firmwareFile(EFIGUID("7c04a583-9e3e-4f1c-ad65-e05268d0b4d1")!),
            .firmwareVolume(EFIGUID("7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1")!),
            .bbs(deviceType: 0x80, statusFlag: 0, description: Array("Network".utf8)),
            .endInstance,
            .endEntire,
        ]
        for value in values {
            let node = DevicePathNode(value)
            #expect(node.value == value)
            let reparsed = try DevicePath(parsing: node.encoded())
            #expect(reparsed.nodes == [node])
        }
        #expect(DevicePathNode(.pci(device: 2, function: 0)).encoded() == [0x01, 0x01, 0x06, 0x00, 0x00, 0x02])
        #expect(DevicePathNode(.ipv4(.dhcp)).encoded().count == 27)
        #expect(DevicePathNode(.macAddress(address: [1, 2, 3, 4, 5, 6], interfaceType: 1)).encoded().count == 37)
        #expect(DevicePathNode.end.encoded() == [0x7F, 0xFF, 0x04, 0x00])
    }

    @Test func multiInstancePathText() throws {
        let path = DevicePath([
            DevicePathNode(.acpi(hid: DevicePathNode.pciRootHID, uid: 0)), DevicePathNode(.pci(device: 1, function: 0)),
            DevicePathNode(.endInstance),
            DevicePathNode(.acpi(hid: DevicePathNode.pciRootHID, uid: 0)), DevicePathNode(.pci(device: 2, function: 0)),
        ])
        #expect(path.description == "PciRoot(0x0)/Pci(0x1,0x0),PciRoot(0x0)/Pci(0x2,0x0)")
        #expect(try DevicePath(parsing: path.encoded()) == path)
    }

    @Test(
        arguments: [
            (
                [0x01, 0x01, 0x03, 0x00],
                EFILoadOptionError.badValue(field: "DevicePath.Length", offset: 2, detail: "3 is below 4")
            ),
            (
                [0x01, 0x01, 0x06, 0x00, 0x00],
                EFILoadOptionError.truncated(field: "DevicePath node", offset: 0, length: 6)
            ),
            ([0x7F, 0xFF], EFILoadOptionError.truncated(field: "DevicePath node header", offset: 0, length: 4)),
        ] as [([UInt8], EFILoadOptionError)])
    func malformedDevicePaths(_ bytes: [UInt8], _ error: EFILoadOptionError) {
        #expect(throws: error) { try DevicePath(parsing: bytes) }
    }

    @Test func loadOptionWireLayout() throws {
        let option = EFILoadOption(
            description: "A", filePathList: DevicePath([DevicePathNode(.uri("h"))]), optionalData: [0xAB])
        let bytes: [UInt8] = [
            0x01, 0x00, 0x00, 0x00,  // Attributes: LOAD_OPTION_ACTIVE
            0x09, 0x00,  // FilePathListLength: 5 + 4
            0x41, 0x00, 0x00, 0x00,  // Description "A\0"
            0x03, 0x18, 0x05, 0x00, 0x68,  // Uri(h)
            0x7F, 0xFF, 0x04, 0x00,  // End
            0xAB,  // OptionalData
        ]
        #expect(option.encoded() == bytes)
        #expect(try EFILoadOption(parsing: bytes) == option)
        #expect(throws: EFILoadOptionError.truncated(field: "LoadOption.FilePathList", offset: 10, length: 9)) {
            try EFILoadOption(parsing: Array(bytes[0..<12]))
        }
        #expect(throws: EFILoadOptionError.truncated(field: "LoadOption.Description (no NUL)", offset: 8, length: 2)) {
            try EFILoadOption(parsing: Array(bytes[0..<8]))
        }
    }

    @Test func virtFwVarsStyleURIOption() {
        let option = EFILoadOption.uriBoot("http://10.0.0.2:8080/ipxe/ipxe.efi")
        #expect(option.description == "netboot ipxe.efi")
        #expect(option.attributes == .active)
        #expect(option.optionalData.isEmpty)
    }

    @Test func bootOrderAndNames() throws {
        var order = try EFIBootOrder(parsing: [0x00, 0x00, 0x01, 0x00, 0x09, 0x00])
        order.moveToFront(9)
        #expect(order.entries == [9, 0, 1])
        order.appendIfMissing(1)
        order.appendIfMissing(0x1A)
        #expect(order.encoded() == [0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1A, 0x00])
        #expect(throws: EFILoadOptionError.self) { try EFIBootOrder(parsing: [1]) }
        #expect(EFIBootOrder.bootOptionName(0x1A) == "Boot001A")
        #expect(EFIBootOrder.bootOptionNumber("Boot001A") == 0x1A)
        #expect(EFIBootOrder.bootOptionNumber("Boot001a") == nil)
        #expect(EFIBootOrder.bootOptionNumber("BootOrder") == nil)
        #expect(EFIBootOrder.bootNextData(0x99) == [0x99, 0x00])
    }
}
