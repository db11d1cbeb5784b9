import DHCPv4

/// What kind of network boot program sent a DHCP packet.
public enum BootProgram: String, Hashable, Sendable, CustomStringConvertible {
    /// Firmware's own PXE client (UEFI or BIOS ROM): wants a TFTP boot file.
    case pxe
    /// UEFI HTTP Boot (option 60 `HTTPClient`, RFC 4578 archs 15–19): wants an `http://` URL.
    case uefiHTTP = "uefi-http"
    /// iPXE already running (user class `iPXE` / vboot's own ROM, or option 175): wants the script.
    case ipxe

    public var description: String { rawValue }
}

/// A DHCP client that asked to network-boot, as the policy sees it.
public struct BootClient: Hashable, Sendable {
    public var mac: HardwareAddress
    public var architecture: ClientArchitecture
    public var program: BootProgram
    public var machineIdentifier: ClientMachineIdentifier?
    /// True when the user class names vboot's own ROM (`vboot rom build`).
    public var isVBootROM: Bool

    public init(
        mac: HardwareAddress, architecture: ClientArchitecture, program: BootProgram,
        machineIdentifier: ClientMachineIdentifier? = nil, isVBootROM: Bool = false
    ) {
        self.mac = mac
        self.architecture = architecture
        self.program = program
        self.machineIdentifier = machineIdentifier
        self.isVBootROM = isVBootROM
    }
}

/// Why a DHCP packet gets no boot answer.
public enum ClassificationFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// No `PXEClient` / `HTTPClient` vendor class and not iPXE: an ordinary DHCP client.
    case notNetworkBoot(vendorClass: String?)
    /// A PXE option is present but malformed.
    case malformed(String)

    public var description: String {
        switch self {
        case .notNetworkBoot(let vendorClass):
            "not a network-boot client (vendor class \(vendorClass.map { "\"\($0)\"" } ?? "absent"))"
        case .malformed(let reason): "malformed PXE option: \(reason)"
        }
    }
}

extension BootClient {
    /// User classes that mean "iPXE is already running".
    public static let ipxeUserClasses: Set<String> = ["iPXE", vbootUserClass]
    /// The user class vboot's embedded ROM script sets (see `ipxe/embed.ipxe`).
    public static let vbootUserClass = "vboot"

    /// Classifies a request by option 93 and the user class, not by the text of option 60,
    /// which firmware fills inconsistently; option 60's prefix only tells PXE from HTTP Boot.
    public static func classify(_ message: DHCPMessage) -> Result<BootClient, ClassificationFailure> {
        let vendorClass = message.vendorClassIdentifier
        let userClasses = message.userClass?.strings ?? []
        let isIPXE = message.option(.ipxeEncapsulated) != nil || userClasses.contains { ipxeUserClasses.contains($0) }
        let isHTTPClient = vendorClass?.hasPrefix("HTTPClient") == true
        guard isIPXE || isHTTPClient || vendorClass?.hasPrefix("PXEClient") == true else {
            return .failure(.notNetworkBoot(vendorClass: vendorClass))
        }
        let architectures: [ClientArchitecture]?
        let machineIdentifier: ClientMachineIdentifier?
        do {
            architectures = try message.clientArchitectures()
            machineIdentifier = try message.clientMachineIdentifier()
        } catch {
            return .failure(.malformed(error.description))
        }
        // RFC 4578 §2.1: a PXE client without option 93 is an x86 BIOS of the PXE 2.1 era.
        let architecture = architectures?.first ?? .x86BIOS
        let program: BootProgram = isIPXE ? .ipxe : (isHTTPClient || architecture.isHTTPBoot) ? .uefiHTTP : .pxe
        return .success(
            BootClient(
                mac: message.clientHardwareAddress, architecture: architecture, program: program,
                machineIdentifier: machineIdentifier,
                isVBootROM: userClasses.contains(vbootUserClass)))
    }
}

extension ClientArchitecture {
    /// RFC 4578 / IANA: the HTTP Boot variants.
    public var isHTTPBoot: Bool {
        [
            .efiIA32HTTP, .efiX86_64HTTP, .efiBCHTTP, .efiARM32HTTP, .efiARM64HTTP, .x86BIOSHTTP,
            .efiRISCV32HTTP, .efiRISCV64HTTP, .efiLoongArch64HTTP,
        ].contains(self)
    }

    /// Coarse family for per-firmware settings: `bios`, `uefi`.
    public var family: FirmwareFamily { self == .x86BIOS || self == .x86BIOSHTTP ? .bios : .uefi }
}

public enum FirmwareFamily: String, Hashable, Sendable, CaseIterable {
    case bios, uefi
}
