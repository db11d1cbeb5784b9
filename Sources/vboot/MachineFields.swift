import ArgumentParser
import Foundation
import VBootAPI

/// The machine fields `add` and `set` accept; turned into the API's JSON object.
struct MachineFields: ParsableArguments {
    @Option(help: "Host name.") var hostname: String?
    @Option(help: "Profile in boot-scripts/profiles (without .ipxe or .profile).") var profile: String?
    @Option(help: "SMBIOS UUID (selects the machine when its MAC changes).") var uuid: String?
    @Option(help: "Serial number.") var serial: String?
    @Option(help: "Next boot: profile, once, local, shell or hold.") var nextBoot: String?
    @Option(help: "When a once install is done: callback or fetches:N.") var onceCompletion: String?
    @Option(help: "Proxy strategy for this machine: offer or boot-server.") var proxyStrategy: String?
    @Option(help: "What the machine loads first: ipxe, or grub (shim -> GRUB, for Secure Boot).") var loader: String?
    @Option(help: "Reserved IPv4 address (--dhcp full).") var address: String?
    @Option(name: .customLong("var"), help: "Template variable NAME=VALUE; repeatable.") var variables: [String] = []

    func write(existingVariables: [String: String] = [:]) throws -> MachineWrite {
        var write = MachineWrite()
        for (key, value) in [
            ("hostname", hostname), ("profile", profile), ("uuid", uuid), ("serial", serial),
            ("next_boot", nextBoot), ("once_completion", onceCompletion), ("proxy_strategy", proxyStrategy),
            ("loader", loader), ("address", address),
        ] {
            if let value { write[text: key] = .set(value) }
        }
        if !variables.isEmpty {
            var merged = existingVariables
            for assignment in variables {
                let parts = assignment.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--var \(assignment): expected NAME=VALUE")
                }
                merged[String(parts[0])] = String(parts[1])
            }
            write.variables = .set(merged)
        }
        return write
    }
}

/// One line per machine, for `list`; the whole record for `show`.
enum MachineText {
    static func row(_ machine: MachineResource) -> [String] {
        [
            machine.mac, machine.hostname ?? "-", machine.profile ?? "-", state(machine),
            machine.updatedAt.prefix(19).replacingOccurrences(of: "T", with: " "),
        ]
    }

    static func state(_ machine: MachineResource) -> String {
        guard machine.nextBoot == "once" else { return machine.nextBoot }
        return machine.installHandedOut ? "once (installing)" : "once (\(machine.onceCompletion))"
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func details(_ machine: MachineResource) -> String {
        let fields: [(String, String?)] = [
            ("mac", machine.mac), ("hostname", machine.hostname), ("uuid", machine.uuid), ("serial", machine.serial),
            ("profile", machine.profile), ("next_boot", state(machine)), ("proxy_strategy", machine.proxyStrategy),
            ("loader", machine.loader), ("created_at", machine.createdAt), ("updated_at", machine.updatedAt),
        ]
        var lines = fields.map { "\($0.0.padding(toLength: 15, withPad: " ", startingAt: 0)) \($0.1 ?? "-")" }
        for (name, value) in machine.variables.sorted(by: { $0.key < $1.key }) {
            lines.append("var \(name) = \(value)")
        }
        return lines.joined(separator: "\n")
    }

    /// A machine as `add`, `set`, `show`, `once` and `local` print it.
    static func print(_ machine: MachineResource, json: Bool) {
        Swift.print(json ? APIClient.pretty(machine) : details(machine))
    }
}
