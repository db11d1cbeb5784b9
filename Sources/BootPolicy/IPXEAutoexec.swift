import DHCPv4

/// `autoexec.ipxe`: the script an EFI iPXE without an embedded script runs first (iPXE's own
/// Secure Boot signed `ipxe.efi`, which can carry none, or `vboot rom build --no-embed`). It
/// fetches it from where it was loaded: over TFTP `autoexec.ipxe` beside the binary, then at the
/// root (for the binaries vboot serves, at the TFTP root, both are the name `autoexec.ipxe`); over
/// HTTP beside the binary (`/ipxe/autoexec.ipxe`), then `/autoexec.ipxe`. vboot answers with its
/// embedded script (`ipxe/embed.ipxe`) for the server the client reached, so such an iPXE takes
/// the same chain as vboot's own build.
public struct IPXEAutoexec: Sendable {
    public static let fileName = "autoexec.ipxe"
    public static let httpPaths = ["/" + fileName, "/ipxe/" + fileName]

    /// The embedded-script template; nil when vboot found none, and `autoexec.ipxe` is not found.
    public let template: String?

    public init(template: String?) {
        self.template = template
    }

    /// Whether a TFTP read request names it (iPXE drops the URI's leading `/`; others may not).
    public static func isTFTPName(_ name: String) -> Bool {
        name == fileName || name == "/" + fileName
    }

    /// The script for a client that reached vboot's HTTP listener at `server`
    /// (`http://host:port`): the template's `{{server}}` filled in, as `vboot rom build` does.
    public func script(server: String) -> String? {
        let trimmed = server.hasSuffix("/") ? String(server.dropLast()) : server
        return template?.replacing("{{server}}", with: trimmed)
    }

    /// The script for a TFTP client that wrote to vboot at `address`: vboot's HTTP listener on
    /// that address. Nil when the address is not known (`0.0.0.0`).
    public func script(reachedAt address: IPv4Address, httpPort: Int) -> String? {
        address.isAny ? nil : script(server: "http://\(address):\(httpPort)")
    }
}
