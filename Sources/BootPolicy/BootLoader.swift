/// What a UEFI machine loads first over the network, which decides the boot file it is offered.
/// Firmware does not say whether Secure Boot is on, so a machine (or the site) is marked for it.
public enum BootLoader: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// iPXE (`ipxe.efi`, `undionly.kpxe`, ...), which fetches the machine's script over HTTP.
    case ipxe
    /// The distribution's signed chain for Secure Boot: shim (signed by Microsoft) loads GRUB
    /// (signed by the distribution), which fetches a configuration vboot renders from the
    /// machine's declarative profile over TFTP. See `GRUBChain`.
    case grub

    public var description: String { rawValue }
}
