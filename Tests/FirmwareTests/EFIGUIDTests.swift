import Firmware
import Testing

@Suite("EFIGUID")
struct EFIGUIDTests {
    @Test func mixedEndianTextForm() {
        let guid = EFIGUID.systemNVDataFV
        // On disk: Data1..Data3 little-endian, Data4 in order (as at offset 16 of OVMF_VARS.fd).
        #expect(
            guid.bytes == [
                0x8d, 0x2b, 0xf1, 0xff, 0x96, 0x76, 0x8b, 0x4c, 0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50,
            ])
        #expect(guid.description == "fff12b8d-7696-4c8b-a985-2747075b4f50")
        #expect(EFIGUID("FFF12B8D-7696-4C8B-A985-2747075B4F50") == guid)
    }

    @Test(arguments: [
        (EFIGUID.globalVariable, "8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        (EFIGUID.imageSecurityDatabase, "d719b2cb-3d3a-4596-a3bc-dad00e67656f"),
        (EFIGUID.variable, "ddcf3616-3275-4164-98b6-fe85707ffe7d"),
        (EFIGUID.authenticatedVariable, "aaf32c78-947b-439a-a180-2e144ec37792"),
    ])
    func namedGUIDs(_ guid: EFIGUID, _ text: String) {
        #expect(guid.description == text)
        #expect(EFIGUID(text) == guid)
    }

    @Test(arguments: [
        "", "fff12b8d-7696-4c8b-a985-2747075b4f5", "fff12b8d7696-4c8b-a985-2747075b4f500",
        "gff12b8d-7696-4c8b-a985-2747075b4f50",
    ])
    func rejectsMalformedText(_ text: String) {
        #expect(EFIGUID(text) == nil)
    }
}
