import ArgumentParser
import Foundation
import VBootAPI

struct MachinesSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change a machine's fields; --unset clears one, --var adds to its variables.")

    @Argument(help: "The machine (MAC, or uuid:…, serial:…, hostname:…).") var machine: String
    @OptionGroup var fields: MachineFields
    @Option(
        help:
            "Clear a field (hostname, profile, uuid, serial, proxy_strategy, loader) or a variable (var.NAME); repeatable."
    )
    var unset: [String] = []
    @OptionGroup var api: APIOptions

    func run() async throws {
        let client = api.client()
        let path = "/machines/\(APIClient.segment(machine))"
        var existing: [String: String] = [:]
        let touchesVariables = !fields.variables.isEmpty || unset.contains { $0.hasPrefix("var.") }
        if touchesVariables {
            existing = try await client.call("GET", path, as: MachineResource.self).variables
        }
        var write = try fields.write(existingVariables: existing)
        for field in unset {
            if field.hasPrefix("var.") {
                var variables = write.variables.value ?? existing
                variables[String(field.dropFirst(4))] = nil
                write.variables = .set(variables)
            } else {
                let name = field.replacingOccurrences(of: "-", with: "_")
                let clearable = MachineWrite.fields.filter {
                    !["mac", "variables", "next_boot", "once_completion"].contains($0)
                }
                guard clearable.contains(name) else {
                    throw ValidationError(
                        "--unset \(field): expected one of \(clearable.joined(separator: ", ")) or var.NAME")
                }
                write[text: name] = .clear
            }
        }
        guard !write.isEmpty else { throw ValidationError("nothing to change: give a field option or --unset") }
        let changed = try await client.call("PATCH", path, body: write, as: MachineResource.self)
        MachineText.print(changed, json: api.json)
    }
}
