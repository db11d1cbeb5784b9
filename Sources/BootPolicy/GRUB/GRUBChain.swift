import DHCPv4

/// The file names of the shim → GRUB chain and the configuration GRUB reads first.
///
/// Measured with Debian 12's netboot files (`debian-installer-12-netboot-amd64`) on OVMF with
/// Secure Boot enforcing: shim fetches `grubx64.efi` from the directory it was loaded from (and
/// asks for `revocations_sku.efi`, `revocations_sbat.efi` and `shim_certificate_0.efi`, which
/// may be missing); GRUB, whose prefix is built in (`/debian-installer/amd64/grub`), probes
/// `x86_64-efi/grub.cfg` and the `*.lst` module lists there, then reads `grub.cfg` — no per-MAC
/// or per-IP names. Its modules are built in and none can be loaded under Secure Boot: it has
/// TFTP but no HTTP. GRUB asks the server in the DHCP ACK (`siaddr`), not the proxyDHCP reply,
/// so behind a site DHCP server that server's next-server must be vboot (or vboot runs
/// `--dhcp full`).
public enum GRUBChain {
    /// Boot file names for a machine whose loader is GRUB, first present wins: the shim under its
    /// own name (`shim-signed`: `shimx64.efi.signed`, renamed), then Debian's netboot name.
    public static func shimCandidates(for architecture: ClientArchitecture) -> [String] {
        switch architecture {
        case .efiX86_64, .efiBC, .efiX86_64HTTP, .efiBCHTTP: ["shimx64.efi", "bootnetx64.efi"]
        case .efiARM64, .efiARM64HTTP: ["shimaa64.efi", "bootnetaa64.efi"]
        default: []
        }
    }

    /// What shim loads next, by the name shim has built in.
    public static let grubNames = ["grubx64.efi", "grubaa64.efi"]

    /// Every file of the chain vboot gives out from its boot-file directories.
    public static let allNames: [String] = {
        var names: [String] = []
        for architecture in [ClientArchitecture.efiX86_64, .efiARM64] {
            names += shimCandidates(for: architecture)
        }
        return names + grubNames
    }()

    /// The shim to offer `architecture`, given what is installed.
    public static func select(for architecture: ClientArchitecture, available: Set<String>) -> String? {
        shimCandidates(for: architecture).first(where: available.contains)
    }

    /// Where the per-machine configuration lives on vboot's TFTP server.
    public static let machineConfigDirectory = "vboot/grub"

    /// Whether a TFTP read names GRUB's first configuration: `grub.cfg` in a `grub` directory,
    /// wherever the build's prefix puts it (`/debian-installer/amd64/grub/grub.cfg` for Debian's,
    /// `/grub/grub.cfg` for others). vboot's own directory is not one.
    public static func isBootstrapName(_ name: String) -> Bool {
        let path = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return (path == "grub/grub.cfg" || path.hasSuffix("/grub/grub.cfg"))
            && !path.hasPrefix(machineConfigDirectory + "/")
    }

    /// The machine a TFTP read of `vboot/grub/<mac>.cfg` is for (GRUB writes the MAC with colons).
    public static func machineConfigMAC(_ name: String) -> HardwareAddress? {
        let path = name.hasPrefix("/") ? String(name.dropFirst()) : name
        let prefix = machineConfigDirectory + "/"
        guard path.hasPrefix(prefix), path.hasSuffix(".cfg") else { return nil }
        let mac = path.dropFirst(prefix.count).dropLast(".cfg".count)
        guard !mac.contains("/") else { return nil }
        return HardwareAddress(mac)
    }

    /// Set by a machine's configuration that ends at GRUB's prompt on purpose (next boot `shell`).
    public static let promptVariable = "vboot_prompt"

    /// GRUB's first configuration, the same for every machine: it reads the machine's own
    /// (`$net_default_mac` is the MAC of the interface GRUB booted from) from the server GRUB came
    /// from, in its own context (`source`, so a flag it sets is seen here). A configuration that
    /// boots never comes back; when there is none, GRUB says so and returns to the firmware, which
    /// boots the next entry in its boot order; one that sets the prompt flag ends at `grub>`.
    public static let bootstrap = """
        # vboot: GRUB's first configuration, the same for every machine. The machine's own comes
        # from vboot by its MAC, rendered from its profile.
        echo "vboot: fetching the configuration of ${net_default_mac} from ${net_default_server}"
        source /\(machineConfigDirectory)/${net_default_mac}.cfg
        if [ "$\(promptVariable)" != 1 ]; then
          echo "vboot: no configuration for ${net_default_mac} (see vboot's log); returning to the firmware in 30 s"
          sleep 30
          exit 1
        fi

        """
}
