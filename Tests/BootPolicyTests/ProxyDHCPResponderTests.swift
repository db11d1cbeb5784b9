import BootPolicy
import DHCPv4
import NIOCore
import Testing

@Suite("proxyDHCP decisions")
struct ProxyDHCPResponderTests {
    static let server = IPv4Address(10, 77, 0, 2)
    static let allBinaries: Set<String> = ["ipxe.efi", "undionly.kpxe", "snponly.efi", "ipxe-arm64.efi"]

    static func context(
        binaries: Set<String> = allBinaries, strategies: ProxyStrategies = ProxyStrategies()
    ) -> ProxyDHCPResponder.Context {
        .init(
            serverAddress: server, httpPort: 8080, availableBinaries: binaries,
            strategies: strategies)
    }

    /// The offer vboot sent to OVMF in the rig, which OVMF accepted and booted from.
    @Test func ovmfDiscoverGetsTheGoldenOffer() throws {
        let request = try Fixture.message("ovmf-x64-discover-proxied.bin")
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        let reply = try #require(decision.reply)
        #expect(
            reply.encoded(minimumLength: DHCPMessage.minimumBOOTPLength).bytes
                == (try Fixture.bytes("vboot-offer-ovmf.bin")))
        #expect(decision.client?.program == .pxe)
        #expect(decision.summary.contains("tftp ipxe.efi"))
    }

    @Test func ipxeDiscoverGetsTheGoldenScriptOffer() throws {
        let request = try Fixture.message("ipxe-efi-discover-proxied.bin")
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        let reply = try #require(decision.reply)
        #expect(
            reply.encoded(minimumLength: DHCPMessage.minimumBOOTPLength).bytes
                == (try Fixture.bytes("vboot-offer-ipxe-efi.bin")))
        #expect(reply.bootFileName == "http://10.77.0.2:8080/boot.ipxe?mac=52-54-00-aa-00-02")
    }

    @Test func offerFields() throws {
        let request = try Fixture.message("ovmf-x64-discover.bin")
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context()).reply)
        #expect(reply.op == .bootReply)
        #expect(reply.xid == request.xid)
        #expect(reply.flags == request.flags)
        #expect(reply.chaddr == request.chaddr)
        #expect(reply.yiaddr == .any, "a proxy offers no address")
        #expect(reply.siaddr == Self.server)
        #expect(reply.messageType == .offer)
        #expect(reply.serverIdentifier == Self.server)
        #expect(reply.vendorClassIdentifier == "PXEClient")
        #expect(reply.option(.clientMachineIdentifier) == request.option(.clientMachineIdentifier))
        let pxe = try #require(try reply.pxeVendorOptions())
        #expect(pxe.discoveryControl == .skipDiscovery)
        #expect(reply.bootFileName == "ipxe.efi")
    }

    @Test func biosIPXEGetsScript() throws {
        let request = try Fixture.message("ipxe-bios-discover.bin")
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.client?.architecture == .x86BIOS)
        #expect(decision.client?.program == .ipxe)
        #expect(decision.reply?.bootFileName == "http://10.77.0.2:8080/boot.ipxe?mac=52-54-00-aa-00-03")
        #expect(decision.reply?.option(.vendorSpecific) == nil, "iPXE gets no PXE menu")
    }

    @Test func requestsOnPort67AreForTheSiteServer() throws {
        let request = try Fixture.message("ipxe-bios-request.bin")
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.reply == nil)
        #expect(decision.isRoutineSilence)
    }

    @Test func siteOfferIsIgnored() throws {
        let offer = try Fixture.message("dnsmasq-offer.bin")
        let decision = ProxyDHCPResponder.decide(offer, on: .dhcp, context: Self.context())
        #expect(decision.reply == nil)
    }

    @Test func plainDHCPClientGetsSilence() {
        var request = DHCPMessage(op: .bootRequest, xid: 7, chaddr: HardwareAddress("52:54:00:00:00:07")!)
        request.options = [
            DHCPOption(.messageType, [DHCPMessageType.discover.rawValue]),
            DHCPOption(.vendorClassIdentifier, string: "MSFT 5.0"),
        ]
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.reply == nil)
        #expect(decision.isRoutineSilence)
        #expect(decision.summary.contains("MSFT 5.0"))
    }

    static func pxeDiscover(
        arch: ClientArchitecture?, vendorClass: String = "PXEClient:Arch:00000:UNDI:002001",
        type: DHCPMessageType = .discover
    ) -> DHCPMessage {
        var request = DHCPMessage(
            op: .bootRequest, xid: 0x1234_5678, chaddr: HardwareAddress("52:54:00:00:00:01")!,
            flags: DHCPMessage.broadcastFlag)
        request.options = [
            DHCPOption(.messageType, [type.rawValue]), DHCPOption(.vendorClassIdentifier, string: vendorClass),
        ]
        if let arch {
            request.options.append(DHCPOption(.clientSystemArchitecture, ClientArchitecture.encodeList([arch])))
        }
        return request
    }

    @Test(arguments: [
        (ClientArchitecture.x86BIOS, "undionly.kpxe"),
        (.efiX86_64, "ipxe.efi"),
        (.efiBC, "ipxe.efi"),
        (.efiARM64, "ipxe-arm64.efi"),
    ])
    func pxeBootFileByArchitecture(arch: ClientArchitecture, file: String) {
        let reply = ProxyDHCPResponder.decide(Self.pxeDiscover(arch: arch), on: .dhcp, context: Self.context()).reply
        #expect(reply?.bootFileName == file)
    }

    @Test func missingOption93MeansBIOS() {
        let reply = ProxyDHCPResponder.decide(Self.pxeDiscover(arch: nil), on: .dhcp, context: Self.context()).reply
        #expect(reply?.bootFileName == "undionly.kpxe")
    }

    @Test(arguments: [ClientArchitecture.efiIA32, .efiRISCV64, .efiLoongArch64, .efiARM32])
    func architectureWithoutBinaryIsSilentAndSaysWhy(arch: ClientArchitecture) {
        let decision = ProxyDHCPResponder.decide(Self.pxeDiscover(arch: arch), on: .dhcp, context: Self.context())
        #expect(decision.reply == nil)
        #expect(!decision.isRoutineSilence, "an admin must see this at the default log level")
        #expect(decision.summary.contains("ipxe"))
    }

    @Test func missingPackageNamesIt() {
        let decision = ProxyDHCPResponder.decide(
            Self.pxeDiscover(arch: .efiX86_64), on: .dhcp, context: Self.context(binaries: []))
        #expect(decision.reply == nil)
        #expect(decision.summary.contains("apt install ipxe"))
    }

    @Test(arguments: [ClientArchitecture.efiX86_64HTTP, .efiARM64HTTP])
    func uefiHTTPBootGetsURLAndHTTPClient(arch: ClientArchitecture) {
        let request = Self.pxeDiscover(arch: arch, vendorClass: "HTTPClient:Arch:000\(arch.rawValue):UNDI:003000")
        let reply = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context()).reply
        #expect(reply?.vendorClassIdentifier == "HTTPClient")
        let expected = arch == .efiARM64HTTP ? "ipxe-arm64.efi" : "ipxe.efi"
        #expect(reply?.bootFileName == "http://10.77.0.2:8080/ipxe/\(expected)")
        #expect(reply?.option(.vendorSpecific) == nil)
    }

    // MARK: Loader grub (Secure Boot)

    static let withShim = allBinaries.union(["bootnetx64.efi", "grubx64.efi"])

    /// The boot file `request` is offered with the shim installed, under the site's and the
    /// machine's loader.
    static func bootFile(
        _ request: DHCPMessage, site: BootLoader = .ipxe, machine: BootLoader? = nil
    ) -> String? {
        var context = Self.context(binaries: Self.withShim)
        context.loader = site
        if let machine { context.machine = MachineBootHint(nextBoot: .profile, loader: machine) }
        return ProxyDHCPResponder.decide(request, on: .dhcp, context: context).reply?.bootFileName
    }

    @Test func aGRUBMachineGetsTheShim() {
        #expect(Self.bootFile(Self.pxeDiscover(arch: .efiX86_64), machine: .grub) == "bootnetx64.efi")
    }

    @Test func theSiteLoaderAppliesUnlessTheMachineSaysOtherwise() {
        #expect(Self.bootFile(Self.pxeDiscover(arch: .efiX86_64), site: .grub) == "bootnetx64.efi")
        #expect(Self.bootFile(Self.pxeDiscover(arch: .efiX86_64), site: .grub, machine: .ipxe) == "ipxe.efi")
    }

    /// GRUB has no HTTP (and iPXE runs already): both keep iPXE's path.
    @Test func httpBootAndIPXEClientsKeepIPXEUnderLoaderGRUB() {
        let http = Self.pxeDiscover(arch: .efiX86_64HTTP, vendorClass: "HTTPClient:Arch:00016:UNDI:003000")
        #expect(Self.bootFile(http, site: .grub)?.hasSuffix("/ipxe/ipxe.efi") == true)
    }

    /// BIOS has no Secure Boot and no shim: a site-wide loader grub leaves it on iPXE.
    @Test func biosMachinesKeepIPXEUnderLoaderGRUB() {
        #expect(Self.bootFile(Self.pxeDiscover(arch: .x86BIOS), site: .grub) == "undionly.kpxe")
    }

    @Test func noShimIsSilentAndSaysWhatToInstall() {
        var context = Self.context()
        context.loader = .grub
        let decision = ProxyDHCPResponder.decide(Self.pxeDiscover(arch: .efiX86_64), on: .dhcp, context: context)
        #expect(decision.reply == nil)
        #expect(!decision.isRoutineSilence)
        #expect(decision.summary.contains("loader grub"))
        #expect(decision.summary.contains("debian-installer-12-netboot-amd64"))
    }

    @Test func userClassInRFC3004FormIsIPXE() {
        var request = Self.pxeDiscover(arch: .efiX86_64)
        request.options.append(DHCPOption(.userClass, [4] + Array("iPXE".utf8)))
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.client?.program == .ipxe)
    }

    @Test func vbootROMUserClassIsIPXE() {
        var request = Self.pxeDiscover(arch: .efiX86_64)
        request.options.append(DHCPOption(.userClass, Array("vboot".utf8)))
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.client?.program == .ipxe)
        #expect(decision.client?.isVBootROM == true)
    }

    @Test func option175AloneMeansIPXE() {
        var request = Self.pxeDiscover(arch: .x86BIOS)
        request.options.append(DHCPOption(.ipxeEncapsulated, [0xB1, 0x05, 0x01, 0x10, 0xEC, 0x81, 0x39]))
        #expect(ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context()).client?.program == .ipxe)
    }

    @Test func bootServerStrategyOfferListsVBootAndNoFile() throws {
        var strategies = ProxyStrategies()
        try strategies.apply("uefi=boot-server")
        let reply = try #require(
            ProxyDHCPResponder.decide(
                Self.pxeDiscover(arch: .efiX86_64), on: .dhcp,
                context: Self.context(strategies: strategies)
            ).reply)
        #expect(reply.bootFileName == "")
        let pxe = try #require(try reply.pxeVendorOptions())
        #expect(pxe.discoveryControl == [.disableBroadcast, .disableMulticast, .onlyListedServers])
        #expect(pxe.value(.bootServers) == [0x80, 0x00, 1, 10, 77, 0, 2])
        #expect(pxe.value(.bootMenu) == [0x80, 0x00, 5] + Array("vboot".utf8))
        #expect(pxe.value(.menuPrompt) == [0] + Array("vboot".utf8))
        // BIOS keeps the default.
        let bios = ProxyDHCPResponder.decide(
            Self.pxeDiscover(arch: .x86BIOS), on: .dhcp, context: Self.context(strategies: strategies)
        ).reply
        #expect(bios?.bootFileName == "undionly.kpxe")
    }

    @Test func bootServerRequestOn4011GetsACKWithFileAndEchoedItem() throws {
        var request = Self.pxeDiscover(arch: .efiX86_64, type: .request)
        request.ciaddr = IPv4Address(10, 77, 0, 100)
        request.flags = 0
        var pxe = PXEVendorOptions()
        pxe.bootItem = PXEBootItem(type: 0x8000, layer: 0)
        request.options.append(DHCPOption(.vendorSpecific, pxe.encode()))
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .bootServer, context: Self.context()).reply)
        #expect(reply.messageType == .ack)
        #expect(reply.ciaddr == request.ciaddr)
        #expect(reply.bootFileName == "ipxe.efi")
        #expect(try reply.pxeVendorOptions()?.bootItem == PXEBootItem(type: 0x8000, layer: 0))
    }

    @Test func ipxeOn4011GetsScriptACK() throws {
        var request = try Fixture.message("ipxe-efi-discover.bin")
        request.setOption(.messageType, [DHCPMessageType.request.rawValue])
        request.ciaddr = IPv4Address(10, 77, 0, 101)
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .bootServer, context: Self.context()).reply)
        #expect(reply.messageType == .ack)
        #expect(reply.bootFileName == "http://10.77.0.2:8080/boot.ipxe?mac=52-54-00-aa-00-02")
    }

    @Test func bootReplyIsNeverAnswered() throws {
        var request = Self.pxeDiscover(arch: .efiX86_64)
        request.op = .bootReply
        #expect(ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context()).reply == nil)
    }

    @Test func malformedOption93IsReportedNotCrashed() {
        var request = Self.pxeDiscover(arch: nil)
        request.options.append(DHCPOption(.clientSystemArchitecture, [0x00]))
        let decision = ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context())
        #expect(decision.reply == nil)
        #expect(decision.summary.contains("malformed"))
    }

    /// Script URLs from an IPv4 address fit the 128-octet `file` field; a longer name goes to option 67.
    @Test func longBootFileNamesGoToOption67() throws {
        var reply = DHCPMessage(op: .bootReply, xid: 1, chaddr: HardwareAddress("52:54:00:aa:00:02")!)
        let long = "http://" + String(repeating: "a", count: 120) + ".example:8080/boot.ipxe?mac=52-54-00-aa-00-02"
        ProxyDHCPResponder.setBootFile(long, in: &reply)
        #expect(reply.bootFileName == "")
        #expect(String(decoding: try #require(reply.option(.bootfileName)), as: UTF8.self) == long)
        var short = DHCPMessage(op: .bootReply, xid: 1, chaddr: HardwareAddress("52:54:00:aa:00:02")!)
        ProxyDHCPResponder.setBootFile("ipxe.efi", in: &short)
        #expect(short.bootFileName == "ipxe.efi" && short.option(.bootfileName) == nil)
    }

    @Test func scriptURLNamesTheServerAndMAC() throws {
        let request = try Fixture.message("ipxe-efi-discover.bin")
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context()).reply)
        #expect(reply.bootFileName == "http://10.77.0.2:8080/boot.ipxe?mac=52-54-00-aa-00-02")
    }

    @Test func strategyParsingErrorsNameTheChoices() {
        var strategies = ProxyStrategies()
        #expect(throws: ConfigurationError.self) { try strategies.apply("uefi=sideways") }
        do {
            try strategies.apply("arm=offer")
            Issue.record("accepted an unknown family")
        } catch {
            #expect(error.description.contains("bios, uefi"))
        }
    }
}

@Suite("reply destination (RFC 2131 §4.1)")
struct ReplyDestinationTests {
    static let client = (address: IPv4Address.any, port: 68)

    @Test func relayedRequestGoesToTheRelayOnPort67() {
        var request = ProxyDHCPResponderTests.pxeDiscover(arch: .efiX86_64)
        request.giaddr = IPv4Address(10, 1, 0, 1)
        #expect(
            ReplyDestination.forReply(to: request, from: Self.client, port: .dhcp)
                == .unicast(IPv4Address(10, 1, 0, 1), port: 67))
    }

    @Test func unconfiguredClientGetsBroadcast() {
        let request = ProxyDHCPResponderTests.pxeDiscover(arch: .efiX86_64)
        #expect(ReplyDestination.forReply(to: request, from: Self.client, port: .dhcp) == .broadcast(port: 68))
    }

    @Test func configuredClientGetsUnicastToCiaddr() {
        var request = ProxyDHCPResponderTests.pxeDiscover(arch: .efiX86_64)
        request.ciaddr = IPv4Address(10, 77, 0, 100)
        #expect(
            ReplyDestination.forReply(to: request, from: Self.client, port: .dhcp)
                == .unicast(IPv4Address(10, 77, 0, 100), port: 68))
    }

    @Test func bootServerRepliesToTheSourcePort() {
        let request = ProxyDHCPResponderTests.pxeDiscover(arch: .efiX86_64)
        let source = (address: IPv4Address(10, 77, 0, 100), port: 4011)
        #expect(
            ReplyDestination.forReply(to: request, from: source, port: .bootServer)
                == .unicast(IPv4Address(10, 77, 0, 100), port: 4011))
    }
}

/// The boot-server strategy exchange with OVMF, captured in the rig with `--pxe-strategy uefi=boot-server`:
/// OVMF took the offer, asked port 4011 and booted the file in the ACK.
@Suite("boot-server strategy, golden")
struct BootServerGoldenTests {
    static func context() throws -> ProxyDHCPResponder.Context {
        var strategies = ProxyStrategies()
        try strategies.apply("uefi=boot-server")
        return ProxyDHCPResponderTests.context(strategies: strategies)
    }

    @Test func offer() throws {
        let request = try Fixture.message("ovmf-x64-discover-bootserver.bin")
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .dhcp, context: try Self.context()).reply)
        #expect(
            reply.encoded(minimumLength: DHCPMessage.minimumBOOTPLength).bytes
                == (try Fixture.bytes("vboot-offer-bootserver.bin")))
    }

    @Test func ackOn4011() throws {
        let request = try Fixture.message("ovmf-x64-request-4011.bin")
        #expect(request.messageType == .request)
        #expect(try request.pxeVendorOptions()?.bootItem == PXEBootItem(type: 0x8000, layer: 0))
        let reply = try #require(ProxyDHCPResponder.decide(request, on: .bootServer, context: try Self.context()).reply)
        #expect(
            reply.encoded(minimumLength: DHCPMessage.minimumBOOTPLength).bytes
                == (try Fixture.bytes("vboot-ack-4011.bin")))
    }
}
