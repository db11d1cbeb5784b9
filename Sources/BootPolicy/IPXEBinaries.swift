import DHCPv4

/// Which iPXE binary each client architecture loads. Names follow Debian's `ipxe` package and
/// `vboot rom build` outputs; vboot ships none of them.
public enum IPXEBinaries {
    /// Candidate file names, first present wins.
    public static func candidates(for architecture: ClientArchitecture) -> [String] {
        switch architecture {
        case .x86BIOS, .x86BIOSHTTP: ["undionly.kpxe"]
        case .efiX86_64, .efiBC, .efiX86_64HTTP, .efiBCHTTP: ["ipxe.efi", "snponly.efi"]
        case .efiIA32, .efiIA32HTTP: ["ipxe-i386.efi"]
        case .efiARM64, .efiARM64HTTP: ["ipxe-arm64.efi", "snponly-arm64.efi"]
        case .efiARM32, .efiARM32HTTP: ["ipxe-arm32.efi"]
        case .efiRISCV64, .efiRISCV64HTTP: ["ipxe-riscv64.efi"]
        case .efiLoongArch64, .efiLoongArch64HTTP: ["ipxe-loong64.efi"]
        default: []
        }
    }

    /// Every name vboot looks for, for start-up checks and TFTP's name lookup.
    public static let allNames: [String] = {
        var names: [String] = []
        for raw in UInt16(0)...UInt16(64) {
            for name in candidates(for: ClientArchitecture(raw)) where !names.contains(name) { names.append(name) }
        }
        return names
    }()

    /// The binary to offer `architecture`, given what is installed.
    public static func select(for architecture: ClientArchitecture, available: Set<String>) -> String? {
        candidates(for: architecture).first(where: available.contains)
    }
}
