import ArgumentParser
import Foundation

struct MachinesSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change a machine's fields; --unset clears one, --var adds to its variables.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @OptionGroup var fields: MachineFields
    @Option(
        help: "Clear a field (hostname, profile, uuid, serial, proxy_strategy) or a variable (var.NAME); repeatable.")
    var unset: [String] = []
    @OptionGroup var api: APIOptions

    func run() async throws {
        let client = api.client()
        let path = "/machines/\(APIClient.segment(machine))"
        var existing: [String: String] = [:]
        let touchesVariables = !fields.variables.isEmpty || unset.contains { $0.hasPrefix("var.") }
        if touchesVariables {
            let (_, current) = try await client.call("GET", path)
            existing = (current as? [String: Any])?["variables"] as? [String: String] ?? [:]
        }
        var object = try fields.object(existingVariables: existing)
        for field in unset {
            if field.hasPrefix("var.") {
                var variables = object["variables"] as? [String: String] ?? existing
                variables[String(field.dropFirst(4))] = nil
                object["variables"] = variables
            } else {
                object[field.replacingOccurrences(of: "-", with: "_")] = NSNull()
            }
        }
        guard !object.isEmpty else { throw ValidationError("nothing to change: give a field option or --unset") }
        let (_, reply) = try await client.call("PATCH", path, body: object)
        print(api.json ? APIClient.pretty(reply) : MachineText.details(reply as? [String: Any] ?? [:]))
    }
}
