import BootPolicy
import DHCPv4
import Foundation

/// Boot script templates on disk: `machines/<mac>.ipxe`, else `default.ipxe`. Read per request
/// so an edited script takes effect on the next boot.
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

    func hasMachineScript(for mac: HardwareAddress) -> Bool {
        FileManager.default.fileExists(atPath: directory + "/machines/\(mac.hyphenated).ipxe")
    }

    func render(for mac: HardwareAddress?, context: BootScriptContext) throws -> Rendered {
        var candidates: [String] = []
        if let mac { candidates.append("machines/\(mac.hyphenated).ipxe") }
        candidates.append("default.ipxe")
        for name in candidates {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let source = String(decoding: data, as: UTF8.self)
            return Rendered(
                text: try BootScriptRenderer.render(template: source, name: name, context: context), source: name)
        }
        throw MissingDefault(directory: directory)
    }
}
