import Foundation
import Testing
import VBootAPI

@testable import VBootServer

/// The OpenAPI document against VBootAPI's contract types: every response type, encoded as the
/// server encodes it, fits its schema (types, nulls, enums, no field missing or undocumented),
/// and the write schema names exactly the fields `MachineWrite` reads.
@Suite("OpenAPI document and the contract types")
struct OpenAPIContractTests {
    static let machine = MachineResource(
        mac: "52:54:00:12:34:56", uuid: "4c4c4544-0000-1000-8000-00000000aa01", serial: "SN1", hostname: "node1",
        profile: "debian", variables: ["suite": "trixie"], nextBoot: "once", onceCompletion: "callback",
        installFetches: 1, installHandedOut: true, proxyStrategy: "offer", address: "10.0.0.7",
        createdAt: "2026-12-03T06:00:00.000000Z", updatedAt: "2026-12-03T06:00:01.000000Z")
    static let bareMachine = MachineResource(
        mac: "52:54:00:12:34:57", uuid: nil, serial: nil, hostname: nil, profile: nil, variables: [:],
        nextBoot: "profile", onceCompletion: "callback", installFetches: 0, installHandedOut: false,
        proxyStrategy: nil, address: nil, createdAt: "2026-12-03T06:00:00.000000Z",
        updatedAt: "2026-12-03T06:00:00.000000Z")
    static let event = TimelineEvent(
        id: 7, mac: "52:54:00:12:34:56", address: "10.0.0.7", at: "2026-12-03T06:00:00.000000Z", kind: "tftp",
        outcome: "ok", summary: "ipxe.efi sent", details: ["bytes": "1024"], server: "vboot1")
    static let lease = LeaseResource(
        address: "10.0.0.100", mac: "52:54:00:12:34:56", state: "bound", active: true,
        expiresAt: "2026-12-03T07:00:00.000000Z", hostname: "node1", server: "vboot1")

    /// Each response schema with values of its type, optional fields set and unset.
    static let samples: [(schema: String, value: any Encodable & Sendable)] = [
        ("Machine", machine), ("Machine", bareMachine), ("Machines", MachineList(machines: [machine, bareMachine])),
        ("Event", event), ("Access", AccessResource(write: false)),
        (
            "Events",
            TimelinePage(events: [
                event,
                TimelineEvent(
                    id: 8, mac: nil, address: nil, at: event.at, kind: "dhcp", outcome: "refused", summary: "s",
                    details: [:], server: "vboot1"),
            ])
        ),
        (
            "Profiles",
            ProfileList(
                profiles: [
                    ProfileResource(
                        name: "debian", title: "Debian",
                        variables: [
                            .init(name: "suite", defaultValue: "bookworm", description: "release"),
                            .init(name: "preseed", defaultValue: nil, description: "URL"),
                        ])
                ],
                errors: ["broken.ipxe: no title"])
        ),
        ("Lease", lease),
        (
            "Leases",
            LeaseList(leases: [
                lease,
                LeaseResource(
                    address: "10.0.0.101", mac: nil, state: "declined", active: false, expiresAt: lease.expiresAt,
                    hostname: nil, server: "vboot1"),
            ])
        ),
        ("CallbackResult", CallbackResult(mac: "52:54:00:12:34:56", nextBoot: "local", changed: true)),
        ("Error", APIErrorBody(error: "no machine x")),
    ]

    static func schemas() throws -> [String: JSONValue] {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(OpenAPIDocument.json.utf8))
        guard case .object(let schemas) = document["components"]?["schemas"] else { throw SchemaProblem("no schemas") }
        return schemas
    }

    @Test func everyResponseTypeFitsItsSchema() throws {
        let schemas = try Self.schemas()
        for (name, value) in Self.samples {
            let encoded = try JSONDecoder().decode(JSONValue.self, from: APIContract.encode(value))
            let problems = SchemaCheck(schemas: schemas).check(
                encoded, against: .object(["$ref": .string("#/components/schemas/\(name)")]), at: name)
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test func theWriteSchemaNamesWhatMachineWriteReads() throws {
        guard case .object(let properties) = try Self.schemas()["MachineWrite"]?["properties"] else {
            throw SchemaProblem("no MachineWrite properties")
        }
        #expect(Set(properties.keys) == Set(MachineWrite.fields))
        var write = MachineWrite()
        for field in MachineWrite.fields where field != "variables" { write[text: field] = .clear }
        write.mac = .set("52:54:00:12:34:56")
        write.nextBoot = .set("once")
        write.onceCompletion = .set("fetches:2")
        write.proxyStrategy = .set("boot-server")
        write.variables = .set(["suite": "trixie"])
        let encoded = try JSONDecoder().decode(JSONValue.self, from: APIContract.encode(write))
        let schemas = try Self.schemas()
        #expect(SchemaCheck(schemas: schemas).check(encoded, against: schemas["MachineWrite"]!, at: "write").isEmpty)
        #expect(try APIContract.decode(MachineWrite.self, from: APIContract.encode(write)) == write)
    }

    @Test func aSchemaCheckFindsWhatDoesNotFit() throws {
        let schemas = try Self.schemas()
        let machine = try JSONDecoder().decode(JSONValue.self, from: APIContract.encode(Self.machine))
        guard case .object(var fields) = machine else { throw SchemaProblem("not an object") }
        fields["extra"] = .string("x")
        fields["install_fetches"] = .string("1")
        fields["mac"] = nil
        let problems = SchemaCheck(schemas: schemas).check(.object(fields), against: schemas["Machine"]!, at: "m")
        #expect(problems.count == 3, "\(problems)")
    }
}

struct SchemaProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A JSON value as it was written: a number is not a boolean, `null` is not absent.
enum JSONValue: Decodable, Hashable, Sendable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { object[key] } else { nil }
    }
}

/// The part of OpenAPI 3.0's schema language this document uses.
struct SchemaCheck {
    let schemas: [String: JSONValue]

    func check(_ value: JSONValue, against schema: JSONValue, at path: String) -> [String] {
        if case .string(let reference)? = schema["$ref"] {
            let name = String(reference.split(separator: "/").last ?? "")
            guard let target = schemas[name] else { return ["\(path): no schema \(name)"] }
            return check(value, against: target, at: path)
        }
        if case .array(let parts)? = schema["allOf"] {
            return parts.flatMap { check(value, against: $0, at: path) }
        }
        if value == .null { return schema["nullable"] == .bool(true) ? [] : ["\(path): null where not nullable"] }
        if case .array(let choices)? = schema["enum"], !choices.contains(value) {
            return ["\(path): \(value) is not one of \(choices)"]
        }
        switch (schema["type"], value) {
        case (.string("string")?, .string), (.string("boolean")?, .bool), (.string("integer")?, .integer): return []
        case (.string("array")?, .array(let items)):
            guard let itemSchema = schema["items"] else { return [] }
            return items.enumerated().flatMap { check($1, against: itemSchema, at: "\(path)[\($0)]") }
        case (.string("object")?, .object(let fields)):
            return checkObject(fields, against: schema, at: path)
        default:
            return ["\(path): \(value) is not of type \(schema["type"].map { "\($0)" } ?? "?")"]
        }
    }

    private func checkObject(_ fields: [String: JSONValue], against schema: JSONValue, at path: String) -> [String] {
        var problems: [String] = []
        let properties: [String: JSONValue]
        if case .object(let declared)? = schema["properties"] { properties = declared } else { properties = [:] }
        if case .array(let required)? = schema["required"] {
            for case .string(let name) in required where fields[name] == nil {
                problems.append("\(path).\(name): missing")
            }
        }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            if let property = properties[name] {
                problems += check(value, against: property, at: "\(path).\(name)")
            } else if let additional = schema["additionalProperties"], additional != .bool(false) {
                problems += check(value, against: additional, at: "\(path).\(name)")
            } else {
                problems.append("\(path).\(name): not in the schema")
            }
        }
        return problems
    }
}
