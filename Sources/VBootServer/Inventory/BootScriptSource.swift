import BootPolicy
import DHCPv4
import Foundation

/// Boot script templates on disk: `machines/<mac>.ipxe`, else `default.ipxe`. Checked per request
/// (a stat) so an edited script takes effect on the next boot; parsed once per version.
struct BootScriptSource: Sendable {
    struct Rendered {
        var text: String
        /// Which file, for the log.
        var source: String
    }

    struct MissingDefault: Error, CustomStringConvertible {
        var directory: String
        var description: String { "no default.ipxe in \(directory)" }
    }

    let directory: String
    private let templates: ParsedFileCache<BootScriptTemplate>

    init(directory: String) {
        self.directory = directory
        let prefix = directory.count + 1
        templates = ParsedFileCache { path, text in
            try BootScriptTemplate(source: text, name: String(path.dropFirst(prefix)))
        }
    }

    func hasMachineScript(for mac: HardwareAddress) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/machines/\(mac.hyphenated).ipxe")
    }

    func render(for mac: HardwareAddress?, context: BootScriptContext) throws -> Rendered {
        var candidates: [String] = []
        if let mac { candidates.append("machines/\(mac.hyphenated).ipxe") }
        candidates.append("default.ipxe")
        for name in candidates {
            guard let template = try templates.value(at: directory + "/" + name) else { continue }
            return Rendered(text: template.render(context), source: name)
        }
        throw MissingDefault(directory: directory)
    }
}
