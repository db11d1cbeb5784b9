/// How a proxyDHCP offer on port 67 hands a PXE client its boot file (PXE 2.1 §2.2).
public enum ProxyStrategy: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The offer names the boot file and sets discovery control "skip discovery, use the boot
    /// file" (option 43 sub-option 6 = 0x08). One round trip; most firmware takes it.
    case bootFileInOffer = "offer"
    /// The offer lists vboot as the only boot server; the client asks it on port 4011 and the ACK
    /// names the boot file. For firmware that ignores boot files in proxy offers.
    case bootServer = "boot-server"

    public var description: String { rawValue }
}

/// Per-firmware-family strategy, with per-family overrides from configuration.
public struct ProxyStrategies: Hashable, Sendable {
    public var byFamily: [FirmwareFamily: ProxyStrategy]

    /// Both families default to the boot file in the offer: OVMF, SeaBIOS' iPXE and the PXE ROMs
    /// in the e2e rig all take it, and firmware that asks port 4011 anyway still gets its ACK.
    public init(byFamily: [FirmwareFamily: ProxyStrategy] = [:]) { self.byFamily = byFamily }

    public func strategy(for family: FirmwareFamily) -> ProxyStrategy { byFamily[family] ?? .bootFileInOffer }

    /// Parses `uefi=boot-server` / `bios=offer`.
    public mutating func apply(_ text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let family = FirmwareFamily(rawValue: parts[0]),
            let strategy = ProxyStrategy(rawValue: parts[1])
        else {
            throw ConfigurationError(
                "proxy strategy \"\(text)\": expected FAMILY=STRATEGY with FAMILY one of "
                    + FirmwareFamily.allCases.map(\.rawValue).joined(separator: ", ") + " and STRATEGY one of "
                    + ProxyStrategy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        byFamily[family] = strategy
    }
}

/// A configuration value that cannot be used, with the reason.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
