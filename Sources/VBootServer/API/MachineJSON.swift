import BootPolicy
import DHCPv4
import Foundation
import VBootAPI

/// A request the API refuses, with the HTTP status and the reason shown to the caller.
struct APIError: Error, CustomStringConvertible {
    var status: Int
    var reason: String
    var description: String { reason }

    static func badRequest(_ reason: String) -> APIError { APIError(status: 400, reason: reason) }
    static func notFound(_ reason: String) -> APIError { APIError(status: 404, reason: reason) }
    static func conflict(_ reason: String) -> APIError { APIError(status: 409, reason: reason) }
}

/// Machine ⇄ the API's contract types. Writes are checked field by field; the contract has
/// already refused unknown fields and values of the wrong JSON type.
enum MachineJSON {
    static func resource(_ machine: Machine) -> MachineResource {
        MachineResource(
            mac: machine.mac.description, uuid: machine.uuid, serial: machine.serial, hostname: machine.hostname,
            profile: machine.profile, variables: machine.variables, nextBoot: machine.nextBoot.rawValue,
            onceCompletion: machine.onceCompletion.description, installFetches: machine.onceFetches,
            installHandedOut: machine.nextBoot == .once && machine.onceFetches > 0,
            proxyStrategy: machine.proxyStrategy?.rawValue, address: machine.address?.description,
            createdAt: Timestamp.iso8601(machine.createdAt), updatedAt: Timestamp.iso8601(machine.updatedAt),
            loader: machine.loader?.rawValue)
    }

    /// A write from a request body, or a 400 with the contract's reason.
    static func write(from body: Data) throws(APIError) -> MachineWrite {
        do { return try APIContract.decode(MachineWrite.self, from: body) } catch { throw .badRequest(error.reason) }
    }

    /// A new machine from a POST body; `mac` is required.
    static func create(from write: MachineWrite) throws(APIError) -> Machine {
        guard let text = write.mac.value else { throw .badRequest("mac: required, a MAC address string") }
        guard let mac = HardwareAddress(text) else { throw .badRequest("mac: \"\(text)\" is not a MAC address") }
        var machine = Machine(mac: mac)
        try apply(write, to: &machine, creating: true)
        return machine
    }

    /// Applies a PATCH (or the rest of a POST): present fields change, `null` clears.
    static func apply(_ write: MachineWrite, to machine: inout Machine, creating: Bool) throws(APIError) {
        if !creating, write.mac != .unchanged {
            guard let text = write.mac.value, HardwareAddress(text) == machine.mac else {
                throw .badRequest("mac: cannot be changed; add a new machine and remove this one")
            }
        }
        try change(write.uuid, "uuid", &machine.uuid, Validate.uuid)
        try change(write.serial, "serial", &machine.serial, Validate.serial)
        try change(write.hostname, "hostname", &machine.hostname, Validate.hostname)
        try change(write.address, "address", &machine.address) { IPv4Address($0) }
        try change(write.profile, "profile", &machine.profile, Validate.profile)
        switch write.variables {
        case .unchanged: break
        case .clear: throw .badRequest("variables: expected an object of strings")
        case .set(let variables):
            for (name, text) in variables { try Validate.variable(name: name, value: text) }
            machine.variables = variables
        }
        var completion: OnceCompletion?
        if write.onceCompletion != .unchanged {
            guard let parsed = write.onceCompletion.value.flatMap(OnceCompletion.init) else {
                throw .badRequest("once_completion: expected \"callback\" or \"fetches:N\" with N ≥ 1")
            }
            completion = parsed
        }
        if write.nextBoot != .unchanged {
            guard let state = write.nextBoot.value.flatMap(NextBoot.init(rawValue:)) else {
                throw .badRequest(
                    "next_boot: expected one of \(NextBoot.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            machine.setNextBoot(state, completion: completion)
        } else if let completion {
            machine.onceCompletion = completion
        }
        let strategies = ProxyStrategy.allCases.map(\.rawValue).joined(separator: ", ")
        try change(
            write.proxyStrategy, "proxy_strategy", &machine.proxyStrategy, expected: "null or one of \(strategies)"
        ) {
            ProxyStrategy(rawValue: $0)
        }
        let loaders = BootLoader.allCases.map(\.rawValue).joined(separator: ", ")
        try change(write.loader, "loader", &machine.loader, expected: "null or one of \(loaders)") {
            BootLoader(rawValue: $0)
        }
    }

    /// A nullable field: `null` clears it, a value is checked (and normalised) by `check`.
    private static func change<T>(
        _ field: FieldChange<String>, _ name: String, _ target: inout T?, expected: String? = nil,
        _ check: (String) -> T?
    ) throws(APIError) {
        switch field {
        case .unchanged: return
        case .clear: target = nil
        case .set(let text):
            guard let value = check(text) else {
                throw .badRequest("\(name): \"\(text)\" is not valid" + (expected.map { "; expected \($0)" } ?? ""))
            }
            target = value
        }
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
