import BootPolicy
import DHCPv4
import Testing

/// The inventory's say in the proxy decision: hold is silent, `ignore` silences strangers,
/// a machine's own strategy beats its firmware family's.
@Suite("proxyDHCP decisions with the inventory")
struct InventoryDecisionTests {
    static func context(machine: MachineBootHint?, answersUnknown: Bool = true) -> ProxyDHCPResponder.Context {
        .init(
            serverAddress: ProxyDHCPResponderTests.server, httpPort: 8080,
            availableBinaries: ProxyDHCPResponderTests.allBinaries, machine: machine,
            answersUnknownMachines: answersUnknown)
    }

    @Test func holdIsSilent() throws {
        let request = try Fixture.message("ovmf-x64-discover-proxied.bin")
        let decision = ProxyDHCPResponder.decide(
            request, on: .dhcp, context: Self.context(machine: .init(nextBoot: .hold)))
        #expect(decision.reply == nil && decision.summary.hasSuffix("on hold"))
        for state in NextBoot.allCases where state != .hold {
            #expect(
                ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context(machine: .init(nextBoot: state)))
                    .reply != nil)
        }
    }

    @Test func unknownMachinesAreSilentOnlyWhenIgnored() throws {
        let request = try Fixture.message("ovmf-x64-discover-proxied.bin")
        let ignored = ProxyDHCPResponder.decide(
            request, on: .dhcp, context: Self.context(machine: nil, answersUnknown: false))
        #expect(ignored.reply == nil && ignored.summary.contains("not in the inventory"))
        let known = ProxyDHCPResponder.decide(
            request, on: .dhcp, context: Self.context(machine: .init(nextBoot: .profile), answersUnknown: false))
        #expect(known.reply != nil)
    }

    @Test func machineStrategyOverridesTheFamilyDefault() throws {
        let request = try Fixture.message("ovmf-x64-discover-proxied.bin")
        let byFamily = try #require(
            ProxyDHCPResponder.decide(request, on: .dhcp, context: Self.context(machine: .init(nextBoot: .profile)))
                .reply)
        #expect(byFamily.bootFileName == "ipxe.efi")
        let overridden = try #require(
            ProxyDHCPResponder.decide(
                request, on: .dhcp,
                context: Self.context(machine: .init(nextBoot: .profile, proxyStrategy: .bootServer))
            ).reply)
        // Boot-server strategy: no file in the offer, the client asks port 4011.
        #expect(overridden.bootFileName == "")
    }
}
