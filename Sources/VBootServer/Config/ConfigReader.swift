import BootPolicy
import DHCPv4
import Foundation
import VBootAPI
import Yams

/// Typed reads from the YAML tree; every failure names the line and column of the node.
struct ConfigReader {
    let path: String

    func error(at node: Node, _ reason: String) -> ConfigError {
        ConfigError(path: path, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, reason: reason)
    }

    func error(from yaml: YamlError) -> ConfigError {
        switch yaml {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigError(path: path, line: mark.line, column: mark.column, reason: "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                path: path, line: context.mark.line, column: context.mark.column,
                reason: "\(duplicates.joined(separator: ", ")) appears more than once in one mapping")
        default:
            return ConfigError(path: path, line: 0, column: 0, reason: "YAML: \(yaml)")
        }
    }

    /// A mapping's entries in file order; `known` (when given) lists the keys allowed.
    func mapping(_ node: Node, _ what: String, known: [String]?) throws(ConfigError) -> [(String, Node)] {
        guard let mapping = node.mapping else { throw error(at: node, "\(what): expected a mapping (key: value)") }
        var entries: [(String, Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw error(at: keyNode, "\(what): keys must be text") }
            if let known, !known.contains(key) {
                throw error(at: keyNode, "unknown key \"\(key)\" in \(what); known: \(known.joined(separator: ", "))")
            }
            guard seen.insert(key).inserted else { throw error(at: keyNode, "\(key) appears twice in \(what)") }
            entries.append((key, value))
        }
        return entries
    }

    func sequence(_ node: Node, _ what: String) throws(ConfigError) -> [Node] {
        guard let sequence = node.sequence else { throw error(at: node, "\(what): expected a list") }
        return Array(sequence)
    }

    func string(_ node: Node, _ what: String) throws(ConfigError) -> String {
        guard let scalar = node.scalar else { throw error(at: node, "\(what): expected a single value") }
        return scalar.string
    }

    /// One `machines:` entry, validated by the same rules as the API; errors point at the field.
    func machine(_ node: Node) throws(ConfigError) -> Machine {
        let entries = try mapping(node, "a machine", known: MachineWrite.fields.sorted())
        var write = MachineWrite()
        var marks: [String: Node] = [:]
        for (key, value) in entries {
            marks[key] = value
            if key == "variables" {
                var variables: [String: String] = [:]
                for (name, item) in try mapping(value, "variables", known: nil) {
                    variables[name] = try string(item, "variables.\(name)")
                }
                write.variables = .set(variables)
            } else if value.scalar?.tag == Tag(.null) || (value.scalar?.string == "~" || value.scalar?.string == "null")
            {
                write[text: key] = .clear
            } else {
                write[text: key] = .set(try string(value, key))
            }
        }
        do {
            return try MachineJSON.create(from: write)
        } catch {
            // The API's reasons start with the field name ("hostname: …", "variables.x: …").
            let field = error.reason.prefix { $0 != ":" && $0 != "." && $0 != " " }
            throw self.error(at: marks[String(field)] ?? node, error.reason)
        }
    }

    func checkUnique(_ machines: [Machine], nodes: [Node]) throws(ConfigError) {
        var seen: [String: Int] = [:]
        for (index, machine) in machines.enumerated() {
            for selector in [machine.mac.description, machine.hostname, machine.uuid, machine.serial].compactMap({ $0 })
            {
                if let first = seen[selector] {
                    throw error(
                        at: nodes[index],
                        "machine \(machine.mac): \(selector) is already used by the machine on line \(nodes[first].mark?.line ?? 0)"
                    )
                }
                seen[selector] = index
            }
        }
    }
}
