/// A declarative profile compiled: its templates parsed once, rendered per machine as an iPXE
/// script or as a GRUB configuration, whichever loader asks.
public struct DeclaredBoot: Sendable {
    public let name: String
    public let title: String
    private let kernel: BootScriptTemplate
    private let initrds: [BootScriptTemplate]
    private let arguments: BootScriptTemplate
    private let ipxeLines: [String]
    private let grubLines: [String]

    public init(name: String, title: String, declaration: Profile.Declaration) throws(BootScriptTemplate.TemplateError)
    {
        self.name = name
        self.title = title
        let file = "profiles/\(name)\(Profile.declarativeExtension)"
        kernel = try BootScriptTemplate(source: declaration.kernel, name: "\(file) kernel")
        var initrds: [BootScriptTemplate] = []
        for (index, initrd) in declaration.initrds.enumerated() {
            initrds.append(try BootScriptTemplate(source: initrd, name: "\(file) initrd \(index + 1)"))
        }
        self.initrds = initrds
        arguments = try BootScriptTemplate(
            source: declaration.arguments.joined(separator: " "), name: "\(file) args")
        ipxeLines = declaration.ipxeLines
        grubLines = declaration.grubLines
    }

    /// The values filled in: a kernel URL, initrd URLs, command-line words.
    struct Filled {
        var kernel: String
        var initrds: [String]
        var arguments: [String]
    }

    func fill(_ context: BootScriptContext) -> Filled {
        Filled(
            kernel: GRUBScript.words(kernel.render(context)).joined(),
            initrds: initrds.map { GRUBScript.words($0.render(context)).joined() }.filter { !$0.isEmpty },
            arguments: GRUBScript.words(arguments.render(context)))
    }

    // MARK: iPXE

    /// The iPXE script: the kernel with each initrd named on its command line (`initrd=NAME`:
    /// older iPXE builds hand an EFI kernel only the initrds it names), retried after 30 s or to
    /// the shell on a failure, as the shipped script profiles do.
    public func ipxeScript(_ context: BootScriptContext) -> String {
        let filled = fill(context)
        let names = filled.initrds.enumerated().map { Self.initrdName($1, index: $0) }
        let who = context.values["mac"] ?? "this machine"
        var lines = ["#!ipxe", "# vboot: profile \(name), rendered for iPXE", "echo vboot: \(title) for \(who)"]
        lines += ipxeLines
        lines += [":start", "imgfree"]
        lines.append(
            (["kernel", filled.kernel] + names.map { "initrd=\($0)" } + filled.arguments + ["|| goto failed"])
                .joined(separator: " "))
        for (name, url) in zip(names, filled.initrds) { lines.append("initrd --name \(name) \(url) || goto failed") }
        lines += [
            "echo vboot: starting \(filled.kernel)",
            "boot || goto failed",
            "",
            ":failed",
            "echo vboot: \(title) did not start, error ${errno} (see the message above)",
            "prompt --key s --timeout 30000 vboot: press s for the iPXE shell, any other key to retry now (retrying in 30 s) && shell ||",
            "goto start",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// The file name of an initrd URL, reduced to what an iPXE image name and a kernel argument
    /// can hold.
    static func initrdName(_ url: String, index: Int) -> String {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        let last = path.split(separator: "/").last.map(String.init) ?? ""
        let kept = String(
            last.unicodeScalars.filter {
                $0.isASCII
                    && ($0.properties.isAlphabetic || $0.properties.numericType != nil
                        || "._-".unicodeScalars.contains($0))
            }.map(Character.init))
        return kept.isEmpty || kept == "." || kept == ".." ? "initrd\(index + 1)" : kept
    }

    // MARK: GRUB

    /// Why a profile cannot be rendered for GRUB.
    public struct GRUBRefusal: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The GRUB configuration. GRUB fetches over TFTP from vboot only (`GRUBChain`): the kernel and
    /// initrds must be in vboot's assets tree (`{{assets}}/PATH` becomes `/PATH` on the server GRUB
    /// came from), else the profile is refused with the URL that cannot be fetched.
    public func grubConfig(_ context: BootScriptContext) -> Result<String, GRUBRefusal> {
        let filled = fill(context)
        let assets = context.values["assets"] ?? ""
        var paths: [String] = []
        for url in [filled.kernel] + filled.initrds {
            guard let path = Self.grubPath(url, assets: assets) else {
                return .failure(
                    GRUBRefusal(
                        description:
                            "profile \(name): GRUB cannot fetch \(url): GRUB loads files over TFTP from vboot's assets tree only (\(assets)/...)"
                    ))
            }
            paths.append(path)
        }
        let who = context.values["mac"] ?? "this machine"
        var lines = [
            "# vboot: profile \(name), rendered for GRUB",
            GRUBScript.command("echo", ["vboot: \(title) for \(who)"]),
        ]
        lines += grubLines
        lines += [
            GRUBScript.command("echo", ["vboot: loading \(paths[0])"]),
            GRUBScript.command("linux", [paths[0]] + filled.arguments),
        ]
        if paths.count > 1 {
            lines.append(GRUBScript.command("echo", ["vboot: loading " + paths.dropFirst().joined(separator: " ")]))
            lines.append(GRUBScript.command("initrd", Array(paths.dropFirst())))
        }
        lines +=
            [
                GRUBScript.command("echo", ["vboot: starting the kernel"]),
                "boot",
            ] + GRUBRendering.failed("\(title) did not start (see the message above)")
        return .success(lines.joined(separator: "\n") + "\n")
    }

    /// `{{assets}}/PATH` → `/PATH`; an absolute path stays as it is.
    static func grubPath(_ url: String, assets: String) -> String? {
        if url.hasPrefix("/") { return url }
        guard !assets.isEmpty, url.hasPrefix(assets + "/") else { return nil }
        let rest = url.dropFirst(assets.count)
        guard rest.count > 1 else { return nil }
        return String(rest)
    }
}
