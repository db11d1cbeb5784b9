import BootPolicy
import DHCPv4
import Foundation

/// A request the API refuses, with the HTTP status and the reason shown to the caller.
struct APIError: Error, CustomStringConvertible {
    var status: Int
    var reason: String
    var description: String { reason }

    static func badRequest(_ reason: String) -> APIError { APIError(status: 400, reason: reason) }
    static func notFound(_ reason: String) -> APIError { APIError(status: 404, reason: reason) }
    static func conflict(_ reason: String) -> APIError { APIError(status: 409, reason: reason) }
}

/// Machine ⇄ the API's JSON object. Writes are validated field by field; an unknown field is an
/// error, not ignored, so a typo never silently does nothing.
enum MachineJSON {
    static let writableFields: Set<String> = [
        "mac", "uuid", "serial", "hostname", "profile", "variables", "next_boot", "once_completion", "proxy_strategy",
        "address",
    ]

    static func object(_ machine: Machine) -> [String: Any] {
        [
            "mac": machine.mac.description,
            "uuid": machine.uuid ?? NSNull(),
            "serial": machine.serial ?? NSNull(),
            "hostname": machine.hostname ?? NSNull(),
            "profile": machine.profile ?? NSNull(),
            "variables": machine.variables,
            "next_boot": machine.nextBoot.rawValue,
            "once_completion": machine.onceCompletion.description,
            "install_fetches": machine.onceFetches,
            "install_handed_out": machine.nextBoot == .once && machine.onceFetches > 0,
            "proxy_strategy": machine.proxyStrategy?.rawValue ?? NSNull(),
            "address": machine.address?.description ?? NSNull(),
            "created_at": Timestamp.iso8601(machine.createdAt),
            "updated_at": Timestamp.iso8601(machine.updatedAt),
        ]
    }

    /// Parses a request body into a JSON object, or says what is wrong with it.
    static func parseObject(_ body: Data) throws(APIError) -> [String: Any] {
        guard !body.isEmpty else { throw .badRequest("the request body is empty; expected a JSON object") }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw .badRequest("malformed JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error)")
        }
        guard let object = value as? [String: Any] else { throw .badRequest("expected a JSON object") }
        return object
    }

    /// A new machine from a POST body; `mac` is required.
    static func create(from object: [String: Any]) throws(APIError) -> Machine {
        guard let text = object["mac"] as? String else { throw .badRequest("mac: required, a MAC address string") }
        guard let mac = HardwareAddress(text) else { throw .badRequest("mac: \"\(text)\" is not a MAC address") }
        var machine = Machine(mac: mac)
        try apply(object, to: &machine, creating: true)
        return machine
    }

    /// Applies a PATCH (or the rest of a POST): present fields change, `null` clears.
    static func apply(_ object: [String: Any], to machine: inout Machine, creating: Bool) throws(APIError) {
        if let unknown = object.keys.sorted().first(where: { !writableFields.contains($0) }) {
            throw .badRequest(
                "unknown field \"\(unknown)\"; known: \(writableFields.sorted().joined(separator: ", "))")
        }
        if !creating, let mac = object["mac"] {
            guard let text = mac as? String, HardwareAddress(text) == machine.mac else {
                throw .badRequest("mac: cannot be changed; add a new machine and remove this one")
            }
        }
        if let value = object["uuid"] { machine.uuid = try optionalText(value, "uuid", check: Validate.uuid) }
        if let value = object["serial"] { machine.serial = try optionalText(value, "serial", check: Validate.serial) }
        if let value = object["hostname"] {
            machine.hostname = try optionalText(value, "hostname", check: Validate.hostname)
        }
        if let value = object["address"] {
            machine.address = try optionalText(value, "address") { IPv4Address($0) == nil ? nil : $0 }.flatMap {
                IPv4Address($0)
            }
        }
        if let value = object["profile"] {
            machine.profile = try optionalText(value, "profile", check: Validate.profile)
        }
        if let value = object["variables"] {
            guard let variables = value as? [String: Any] else {
                throw .badRequest("variables: expected an object of strings")
            }
            var checked: [String: String] = [:]
            for (name, raw) in variables {
                guard let text = raw as? String else { throw .badRequest("variables.\(name): expected a string") }
                try Validate.variable(name: name, value: text)
                checked[name] = text
            }
            machine.variables = checked
        }
        var completion: OnceCompletion?
        if let value = object["once_completion"] {
            guard let text = value as? String, let parsed = OnceCompletion(text) else {
                throw .badRequest("once_completion: expected \"callback\" or \"fetches:N\" with N ≥ 1")
            }
            completion = parsed
        }
        if let value = object["next_boot"] {
            guard let text = value as? String, let state = NextBoot(rawValue: text) else {
                throw .badRequest(
                    "next_boot: expected one of \(NextBoot.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            machine.setNextBoot(state, completion: completion)
        } else if let completion {
            machine.onceCompletion = completion
        }
        if let value = object["proxy_strategy"] {
            if value is NSNull {
                machine.proxyStrategy = nil
            } else {
                guard let text = value as? String, let strategy = ProxyStrategy(rawValue: text) else {
                    throw .badRequest(
                        "proxy_strategy: expected null or one of \(ProxyStrategy.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                machine.proxyStrategy = strategy
            }
        }
    }

    private static func optionalText(
        _ value: Any, _ field: String, check: (String) -> String?
    ) throws(APIError) -> String? {
        if value is NSNull { return nil }
        guard let text = value as? String else { throw .badRequest("\(field): expected a string or null") }
        guard let normalised = check(text) else { throw .badRequest("\(field): \"\(text)\" is not valid") }
        return normalised
    }
}

/// Field rules; each returns the normalised value or nil.
enum Validate {
    static func uuid(_ text: String) -> String? {
        let lower = text.lowercased()
        let groups = lower.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        guard groups == [8, 4, 4, 4, 12], lower.allSatisfy({ $0 == "-" || $0.isHexDigit }) else { return nil }
        return lower
    }

    static func serial(_ text: String) -> String? {
        guard (1...64).contains(text.count),
            text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 })
        else { return nil }
        return text
    }

    /// RFC 1123 §2.1 host names: dot-separated labels of letters, digits and hyphens.
    static func hostname(_ text: String) -> String? {
        let lower = text.lowercased()
        guard (1...253).contains(lower.count) else { return nil }
        for label in lower.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.count), label.first != "-", label.last != "-",
                label.unicodeScalars.allSatisfy({
                    $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "-")
                })
            else { return nil }
        }
        return lower
    }

    static func profile(_ text: String) -> String? { Profile.isValidName(text) ? text : nil }

    static func variable(name: String, value: String) throws(APIError) {
        guard Profile.isVariableName(name) else {
            throw .badRequest("variables: \"\(name)\" is not a variable name (letters, digits, _)")
        }
        // A line break would end the iPXE command the value is rendered into.
        guard !value.contains(where: { $0 == "\n" || $0 == "\r" }), value.utf8.count <= 4096 else {
            throw .badRequest("variables.\(name): no line breaks, at most 4096 bytes")
        }
    }
}

enum Timestamp {
    /// Microseconds since 1970 → `2026-11-27T06:05:58.123456Z`.
    static func iso8601(_ microseconds: Int64) -> String {
        let seconds = microseconds / 1_000_000
        let fraction = microseconds % 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let micros = String(fraction)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(String(repeating: "0", count: 6 - micros.count) + micros)Z"
    }
}
