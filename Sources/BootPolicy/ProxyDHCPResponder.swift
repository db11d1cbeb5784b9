import DHCPv4

/// The proxyDHCP decision (PXE 2.1 §2.2; RFC 4578): given a request and the port it came in
/// on, what to answer, if anything. Pure: all I/O lives in the DHCP service.
public struct ProxyDHCPResponder: Sendable {
    public enum Port: Hashable, Sendable, CustomStringConvertible {
        /// The DHCP server port, 67: broadcast DISCOVERs.
        case dhcp
        /// The PXE boot server port, 4011 (PXE 2.1 §2.2.4): unicast REQUESTs.
        case bootServer

        public var description: String { self == .dhcp ? "67" : "4011" }
    }

    /// What the server knows when deciding.
    public struct Context: Sendable {
        /// vboot's address on the interface the request arrived on: server identifier, `siaddr`.
        public var serverAddress: IPv4Address
        /// The port clients reach vboot's HTTP service at, on `serverAddress`.
        public var httpPort: Int
        /// Boot file names present in the boot-file store: iPXE binaries, shim and GRUB.
        public var availableBinaries: Set<String>
        /// What machines load first unless their own `loader` says otherwise.
        public var loader: BootLoader
        public var strategies: ProxyStrategies
        /// What the inventory says about the requesting MAC; nil = not in the inventory.
        public var machine: MachineBootHint?
        /// False under `unknown machines: ignore`: only inventory machines get offers.
        public var answersUnknownMachines: Bool

        public init(
            serverAddress: IPv4Address, httpPort: Int, availableBinaries: Set<String>,
            strategies: ProxyStrategies = ProxyStrategies(), machine: MachineBootHint? = nil,
            answersUnknownMachines: Bool = true, loader: BootLoader = .ipxe
        ) {
            self.loader = loader
            self.serverAddress = serverAddress
            self.httpPort = httpPort
            self.availableBinaries = availableBinaries
            self.strategies = strategies
            self.machine = machine
            self.answersUnknownMachines = answersUnknownMachines
        }

        /// `http://server:port` + `path`: built only for the clients that get a URL.
        func httpURL(_ path: String) -> String { "http://\(serverAddress):\(httpPort)\(path)" }
    }

    /// The outcome: a reply or silence, and one line saying why, for the log.
    public struct Decision: Sendable {
        public var reply: DHCPMessage?
        public var client: BootClient?
        /// True for silence that is normal (not a boot client, a REQUEST meant for the site server).
        public var isRoutineSilence: Bool
        private let describe: @Sendable () -> String

        /// Built when read: under a storm most replies are neither logged nor recorded, and the
        /// line cost more than the reply.
        public var summary: String { describe() }

        init(
            reply: DHCPMessage?, client: BootClient?, summary: @escaping @Sendable @autoclosure () -> String,
            isRoutineSilence: Bool
        ) {
            self.reply = reply
            self.client = client
            self.isRoutineSilence = isRoutineSilence
            describe = summary
        }
    }

    /// `PXEClient` in option 60 of every proxy reply: clients ignore proxy offers without it.
    public static let pxeClientVendorClass = "PXEClient"
    public static let httpClientVendorClass = "HTTPClient"
    /// Boot server type vboot announces in the boot-server strategy; 0x8000 and up are
    /// vendor-defined (PXE 2.1 table 2-1), so it cannot be read as "local boot" (type 0).
    public static let bootServerType: UInt16 = 0x8000

    public static func decide(_ request: DHCPMessage, on port: Port, context: Context) -> Decision {
        guard request.op == .bootRequest, let type = request.messageType else {
            return silence("not a DHCP request", routine: false)
        }
        let client: BootClient
        switch BootClient.classify(request) {
        case .success(let classified): client = classified
        case .failure(let failure): return silence("\(request.clientHardwareAddress) \(failure)", routine: true)
        }
        if context.machine?.nextBoot == .hold {
            return Decision(reply: nil, client: client, summary: "\(who(client)): on hold", isRoutineSilence: true)
        }
        if context.machine == nil && !context.answersUnknownMachines {
            return Decision(
                reply: nil, client: client,
                summary: "\(who(client)): not in the inventory (unknown machines are ignored)",
                isRoutineSilence: true)
        }

        let replyType: DHCPMessageType
        switch (port, type) {
        case (.dhcp, .discover): replyType = .offer
        case (.bootServer, .request), (.bootServer, .inform): replyType = .ack
        case (.bootServer, .discover): replyType = .offer
        default:
            return Decision(
                reply: nil, client: client, summary: "\(who(client)) \(type) on \(port): not for a proxy",
                isRoutineSilence: true)
        }

        let boot: (file: String, vendorClass: String, way: String)
        switch client.program {
        case .ipxe:
            boot = (context.httpURL("/boot.ipxe?mac=\(client.mac.hyphenated)"), pxeClientVendorClass, "script")
        case .pxe
        where (context.machine?.loader ?? context.loader) == .grub
            && !GRUBChain.shimCandidates(for: client.architecture).isEmpty:
            // Secure Boot: the signed shim over TFTP. GRUB has no HTTP, so HTTP boot stays iPXE;
            // so do BIOS machines (no Secure Boot, no shim).
            guard let shim = GRUBChain.select(for: client.architecture, available: context.availableBinaries) else {
                return missingShim(client: client)
            }
            boot = (shim, pxeClientVendorClass, "tftp")
        case .uefiHTTP, .pxe:
            guard let binary = IPXEBinaries.select(for: client.architecture, available: context.availableBinaries)
            else {
                return missingBinary(client: client)
            }
            if client.program == .uefiHTTP {
                boot = (context.httpURL("/ipxe/\(binary)"), httpClientVendorClass, "HTTP boot")
            } else {
                boot = (binary, pxeClientVendorClass, "tftp")
            }
        }

        var reply = DHCPMessage(
            op: .bootReply, xid: request.xid, chaddr: request.clientHardwareAddress,
            htype: request.htype, flags: request.flags,
            ciaddr: port == .bootServer ? request.ciaddr : .any,
            siaddr: context.serverAddress, giaddr: request.giaddr)
        reply.chaddr = request.chaddr
        reply.hlen = request.hlen
        reply.options = [
            DHCPOption(.messageType, [replyType.rawValue]),
            DHCPOption(.serverIdentifier, context.serverAddress.octets),
            DHCPOption(.vendorClassIdentifier, string: boot.vendorClass),
        ]
        // PXE 2.1 §2.2.1: a proxy reply carries the client's machine identifier back.
        if let guid = request.option(.clientMachineIdentifier) {
            reply.options.append(DHCPOption(.clientMachineIdentifier, guid))
        }

        var namesFile = true
        var strategy: ProxyStrategy?
        if client.program == .pxe {
            let chosen = context.machine?.proxyStrategy ?? context.strategies.strategy(for: client.architecture.family)
            let pxe = pxeOptions(for: request, on: port, strategy: chosen, server: context.serverAddress)
            reply.options.append(DHCPOption(.vendorSpecific, pxe.options.encode()))
            namesFile = pxe.namesFile
            strategy = chosen
        }
        if namesFile { setBootFile(boot.file, in: &reply) }
        let server = context.serverAddress
        let (fileNamed, steering) = (namesFile, strategy)
        return Decision(
            reply: reply, client: client,
            summary: {
                let what = boot.way == "tftp" ? "tftp \(boot.file) from \(server)" : "\(boot.way) \(boot.file)"
                let how = steering.map { pxeHow(on: port, strategy: $0, server: server) }
                let outcome = how.map { fileNamed ? "\(what) (\($0))" : $0 } ?? what
                return "\(who(client)) \(type) on \(port) → \(replyType): \(outcome)"
            }(), isRoutineSilence: false)
    }

    private static func who(_ client: BootClient) -> String {
        "\(client.mac) \(client.architecture) \(client.program)"
    }

    /// How option 43 steers the client, for the summary.
    static func pxeHow(on port: Port, strategy: ProxyStrategy, server: IPv4Address) -> String {
        if port == .bootServer { return "boot server ACK" }
        switch strategy {
        case .bootFileInOffer: return "strategy \(strategy)"
        case .bootServer: return "boot server \(server):4011 (strategy \(strategy))"
        }
    }

    /// Option 43 for a PXE client, and whether the reply names the boot file itself.
    static func pxeOptions(
        for request: DHCPMessage, on port: Port, strategy: ProxyStrategy, server: IPv4Address
    ) -> (options: PXEVendorOptions, namesFile: Bool) {
        var pxe = PXEVendorOptions()
        if port == .bootServer {
            // Echo the boot item the client asked for (PXE 2.1 §2.2.5), else skip discovery.
            if let item = (try? request.pxeVendorOptions())??.bootItem {
                pxe.bootItem = item
            } else {
                pxe.discoveryControl = .skipDiscovery
            }
            return (pxe, true)
        }
        switch strategy {
        case .bootFileInOffer:
            pxe.discoveryControl = .skipDiscovery
            return (pxe, true)
        case .bootServer:
            pxe.discoveryControl = [.disableBroadcast, .disableMulticast, .onlyListedServers]
            pxe.set(.bootServers, PXEBootServer.encode([PXEBootServer(type: bootServerType, addresses: [server])]))
            pxe.set(.bootMenu, PXEMenuItem.encode([PXEMenuItem(type: bootServerType, description: "vboot")]))
            pxe.set(.menuPrompt, PXEMenuPrompt(timeout: 0, prompt: "vboot").encode())
            return (pxe, false)
        }
    }

    /// The `file` field holds 128 octets with a NUL; longer names (long script URLs) go in option 67.
    public static func setBootFile(_ name: String, in reply: inout DHCPMessage) {
        if name.utf8.count < 128 {
            reply.bootFileName = name
        } else {
            reply.options.append(DHCPOption(.bootfileName, string: name))
        }
    }

    private static func silence(_ why: String, routine: Bool) -> Decision {
        Decision(reply: nil, client: nil, summary: why, isRoutineSilence: routine)
    }

    /// Only reached for architectures that have shim names (see `decide`).
    private static func missingShim(client: BootClient) -> Decision {
        let names = GRUBChain.shimCandidates(for: client.architecture).joined(separator: ", ")
        return silentForMissing(
            client,
            "loader grub: none of \(names) is installed (apt install debian-installer-12-netboot-amd64, or shim-signed and grub-efi-amd64-signed)"
        )
    }

    private static func missingBinary(client: BootClient) -> Decision {
        let names = IPXEBinaries.candidates(for: client.architecture)
        return silentForMissing(
            client,
            names.isEmpty
                ? "no iPXE build exists for this architecture"
                : "none of \(names.joined(separator: ", ")) is installed (apt install ipxe, or vboot rom build)")
    }

    /// Silence that an admin must see: which files would have answered, and where they come from.
    private static func silentForMissing(_ client: BootClient, _ wanted: String) -> Decision {
        Decision(reply: nil, client: client, summary: "\(who(client)): silent, \(wanted)", isRoutineSilence: false)
    }
}
