import BootPolicy
import DHCPv4
import Foundation

/// Machine ⇄ columns, shared by both backends so they cannot disagree on the encoding.
enum MachineRow {
    static let columns = [
        "mac", "uuid", "serial", "hostname", "profile", "variables", "next_boot", "once_completion",
        "once_fetches", "once_token", "proxy_strategy", "created_at", "updated_at", "ipv4", "loader",
    ]

    static func values(_ machine: Machine) -> [StoreValue] {
        [
            .text(machine.mac.description), StoreValue(machine.uuid), StoreValue(machine.serial),
            StoreValue(machine.hostname), StoreValue(machine.profile), .text(encode(machine.variables)),
            .text(machine.nextBoot.rawValue), .text(machine.onceCompletion.description),
            .integer(Int64(machine.onceFetches)), StoreValue(machine.onceToken),
            StoreValue(machine.proxyStrategy?.rawValue), .integer(machine.createdAt), .integer(machine.updatedAt),
            StoreValue(machine.address?.description), StoreValue(machine.loader?.rawValue),
        ]
    }

    static func machine(_ row: StoreRow) throws(StoreError) -> Machine {
        let macText = try row.text("mac")
        guard let mac = HardwareAddress(macText) else { throw .corrupt("mac \(macText)") }
        let state = try row.text("next_boot")
        guard let nextBoot = NextBoot(rawValue: state) else { throw .corrupt("next_boot \(state) for \(macText)") }
        let completionText = try row.text("once_completion")
        guard let completion = OnceCompletion(completionText) else {
            throw .corrupt("once_completion \(completionText) for \(macText)")
        }
        let strategy = try row.optionalText("proxy_strategy").map { (text: String) throws(StoreError) in
            guard let strategy = ProxyStrategy(rawValue: text) else {
                throw StoreError.corrupt("proxy_strategy \(text) for \(macText)")
            }
            return strategy
        }
        let loader = try row.optionalText("loader").map { (text: String) throws(StoreError) in
            guard let loader = BootLoader(rawValue: text) else {
                throw StoreError.corrupt("loader \(text) for \(macText)")
            }
            return loader
        }
        return Machine(
            mac: mac, uuid: row.optionalText("uuid"), serial: row.optionalText("serial"),
            hostname: row.optionalText("hostname"), profile: row.optionalText("profile"),
            variables: try decode(try row.text("variables"), for: macText), nextBoot: nextBoot,
            onceCompletion: completion, onceFetches: Int(try row.integer("once_fetches")),
            onceToken: row.optionalText("once_token"), proxyStrategy: strategy, loader: loader,
            address: try row.optionalText("ipv4").map { (text: String) throws(StoreError) in
                guard let address = IPv4Address(text) else { throw StoreError.corrupt("ipv4 \(text) for \(macText)") }
                return address
            },
            createdAt: try row.integer("created_at"), updatedAt: try row.integer("updated_at"))
    }

    /// A flat object of strings as JSON (RFC 8259 §7 escaping), keys sorted. Written by hand:
    /// every timeline event goes through here, and JSONEncoder was 9% of a proxy storm's CPU.
    static func encode(_ variables: [String: String]) -> String {
        var json = "{"
        for (index, key) in variables.keys.sorted().enumerated() {
            if index > 0 { json += "," }
            appendQuoted(key, to: &json)
            json += ":"
            appendQuoted(variables[key] ?? "", to: &json)
        }
        return json + "}"
    }

    private static func appendQuoted(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }

    static func decode(_ text: String, for mac: String) throws(StoreError) -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw .corrupt("variables of \(mac) are not a JSON object of strings")
        }
    }
}

/// BootEvent ⇄ columns.
enum EventRow {
    /// Without `id`, which the database assigns.
    static let columns = ["mac", "address", "at", "kind", "outcome", "summary", "details", "server"]

    /// Events above an id, oldest first; the placeholders are the backend's.
    static func select(after: String, limit: String) -> String {
        "SELECT id, \(columns.joined(separator: ", ")) FROM boot_events WHERE id > \(after) ORDER BY id LIMIT \(limit)"
    }

    /// Each MAC's newest event, by `boot_events_by_mac` (mac, id).
    static let latest =
        "SELECT id, \(columns.joined(separator: ", ")) FROM boot_events WHERE id IN "
        + "(SELECT MAX(id) FROM boot_events WHERE mac IS NOT NULL AND kind <> 'change' GROUP BY mac) ORDER BY id"

    static func values(_ event: BootEvent) -> [StoreValue] {
        [
            StoreValue(event.mac?.description), StoreValue(event.address), .integer(event.at),
            .text(event.kind.rawValue), .text(event.outcome.rawValue), .text(event.summary),
            .text(MachineRow.encode(event.details)), .text(event.server),
        ]
    }

    static func event(_ row: StoreRow) throws(StoreError) -> BootEvent {
        let kindText = try row.text("kind")
        let outcomeText = try row.text("outcome")
        guard let kind = BootEvent.Kind(rawValue: kindText), let outcome = BootEvent.Outcome(rawValue: outcomeText)
        else { throw .corrupt("event kind \(kindText) / outcome \(outcomeText)") }
        return BootEvent(
            id: try row.integer("id"), mac: row.optionalText("mac").flatMap(HardwareAddress.init),
            address: row.optionalText("address"), at: try row.integer("at"), kind: kind, outcome: outcome,
            summary: try row.text("summary"), details: try MachineRow.decode(try row.text("details"), for: "event"),
            server: try row.text("server"))
    }
}

/// Lease ⇄ columns.
enum LeaseRow {
    static let columns = ["address", "mac", "state", "expires_at", "hostname", "server", "updated_at", "client_id"]

    static func values(_ lease: Lease) -> [StoreValue] {
        [
            .text(lease.address.description), StoreValue(lease.mac?.description), .text(lease.state.rawValue),
            .integer(lease.expiresAt), StoreValue(lease.hostname), .text(lease.server), .integer(lease.updatedAt),
            StoreValue(lease.clientID),
        ]
    }

    static func lease(_ row: StoreRow) throws(StoreError) -> Lease {
        let addressText = try row.text("address")
        let stateText = try row.text("state")
        guard let address = IPv4Address(addressText), let state = Lease.State(rawValue: stateText) else {
            throw .corrupt("lease \(addressText) state \(stateText)")
        }
        return Lease(
            address: address, mac: row.optionalText("mac").flatMap(HardwareAddress.init), state: state,
            expiresAt: try row.integer("expires_at"), hostname: row.optionalText("hostname"),
            server: try row.text("server"), updatedAt: try row.integer("updated_at"),
            clientID: row.optionalText("client_id"))
    }
}
