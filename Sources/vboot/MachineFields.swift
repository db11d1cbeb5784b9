import ArgumentParser
import Foundation

/// The machine fields `add` and `set` accept; turned into the API's JSON object.
struct MachineFields: ParsableArguments {
    @Option(help: "Host name.") var hostname: String?
    @Option(help: "Profile in boot-scripts/profiles (without .ipxe).") var profile: String?
    @Option(help: "SMBIOS UUID (selects the machine when its MAC changes).") var uuid: String?
    @Option(help: "Serial number.") var serial: String?
    @Option(help: "Next boot: profile, once, local, shell or hold.") var nextBoot: String?
    @Option(help: "When a once install is done: callback or fetches:N.") var onceCompletion: String?
    @Option(help: "Proxy strategy for this machine: offer or boot-server.") var proxyStrategy: String?
    @Option(help: "Reserved IPv4 address (--dhcp full).") var address: String?
    @Option(name: .customLong("var"), help: "Template variable NAME=VALUE; repeatable.") var variables: [String] = []

    func object(existingVariables: [String: String] = [:]) throws -> [String: Any] {
        var object: [String: Any] = [:]
        for (key, value) in [
            ("hostname", hostname), ("profile", profile), ("uuid", uuid), ("serial", serial),
            ("next_boot", nextBoot), ("once_completion", onceCompletion), ("proxy_strategy", proxyStrategy),
            ("address", address),
        ] {
            if let value { object[key] = value }
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
            object["variables"] = merged
        }
        return object
    }
}

/// One line per machine, for `list`; the whole record for `show`.
enum MachineText {
    static func row(_ machine: [String: Any]) -> [String] {
        [
            text(machine["mac"]), text(machine["hostname"]), text(machine["profile"]),
            state(machine), text(machine["updated_at"]).prefix(19).replacingOccurrences(of: "T", with: " "),
        ]
    }

    static func state(_ machine: [String: Any]) -> String {
        let nextBoot = text(machine["next_boot"])
        guard nextBoot == "once" else { return nextBoot }
        let handedOut = machine["install_handed_out"] as? Bool ?? false
        return handedOut ? "once (installing)" : "once (\(text(machine["once_completion"])))"
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case let string as String: string
        case let number as Int: String(number)
        case let flag as Bool: flag ? "yes" : "no"
        default: "-"
        }
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

    static func details(_ machine: [String: Any]) -> String {
        var lines: [String] = []
        for key in ["mac", "hostname", "uuid", "serial", "profile", "proxy_strategy", "created_at", "updated_at"] {
            lines.append("\(key.padding(toLength: 15, withPad: " ", startingAt: 0)) \(text(machine[key]))")
        }
        lines.insert("next_boot       \(state(machine))", at: 5)
        let variables = (machine["variables"] as? [String: String]) ?? [:]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) {
            lines.append("var \(name) = \(value)")
        }
        return lines.joined(separator: "\n")
    }
}
