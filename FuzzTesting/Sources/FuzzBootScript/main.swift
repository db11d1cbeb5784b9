import BootPolicy
import DHCPv4
import Foundation
import FuzzSupport

// `GET /boot.ipxe?QUERY` without the server: the query string up to the first NUL byte, then
// (optionally) a profile's source. The query splits as Hummingbird's URI does (`&`, `=`, percent
// decoding), names a machine (MAC, UUID, serial), `OneShot` decides, and the profile renders, or
// the other-MAC script does. Checks that client values reach a script only sanitized, and that
// a request without the machine's MAC never sees its variables or install token.
let secret = "s3cret-root-password"
let token = "0123456789abcdef0123456789abcdef"
let fallbackSource = """
    #!ipxe
    #: title Fuzz
    #: var mirror = http://mirror.lan -- a mirror
    kernel {{mirror}}/linux serial={{serial}} uuid={{uuid}}{{#done_url}} done={{done_url}}{{/done_url}}
    echo {{hostname}} {{root_password}} {{{asset}}}
    """
let machines: [Machine] = NextBoot.allCases.flatMap { next in
    [OnceCompletion.callback, .fetches(2)].map { completion in
        Machine(
            mac: HardwareAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), uuid: "6b29fc40-ca47-1067-b31d-00dd010662da",
            serial: "SN-1", hostname: "node1", profile: "fuzz", variables: ["root_password": secret],
            nextBoot: next, onceCompletion: completion)
    }
}

fuzz { bytes in
    let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
    let query = parseQuery(String(decoding: parts[0], as: UTF8.self))
    let source = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : fallbackSource
    let mac = query["mac"].flatMap(HardwareAddress.init)
    let selector = MachineSelector(mac: mac, uuid: query["uuid"], serial: query["serial"])
    let context = BootScriptContext(mac: mac?.hyphenated ?? "unknown", serverURL: "http://10.77.0.2:8080", query: query)
    for key in BootScriptContext.clientKeys {
        let value = context.values[key] ?? ""
        precondition(value.count <= 128 && !value.contains(where: { $0.isWhitespace || $0 == "$" || $0 == "\\" }))
    }
    let profile = try? Profile(name: "fuzz", source: source)
    let template = profile.flatMap { try? BootScriptTemplate(source: $0.source, name: $0.name) }
    // Unknown machine: the default script with the client's values.
    _ = template?.render(context.merging(machine: nil, siteVariables: ["site": "x"]))
    for machine in machines where matches(selector, machine) {
        let decision = OneShot.fetch(machine, askedBy: mac, now: 1, newToken: { token })
        switch decision.action {
        case .otherMAC(let asker):
            precondition(asker != machine.mac)
            let text = OtherMACScript.render(
                asker: asker, matchedBy: selector.identifier(of: machine) ?? "its UUID or serial")
            precondition(!text.contains(secret) && !text.contains(token))
        case .hold:
            break
        case .profile, .local, .shell:
            precondition(mac == machine.mac)
            let callback = (decision.updated ?? machine).onceToken.map { "http://10.77.0.2:8080/done?token=\($0)" }
            _ = template?.render(
                context.merging(
                    machine: decision.updated ?? machine, profileDefaults: profile?.defaults ?? [:],
                    siteVariables: ["site": "x"], callbackURL: callback))
        }
    }
}

/// The inventory's lookup order (MachineDirectory): MAC, then UUID, then serial.
func matches(_ selector: MachineSelector, _ machine: Machine) -> Bool {
    if let mac = selector.mac, mac == machine.mac { return true }
    if let uuid = selector.uuid, uuid == machine.uuid?.lowercased() { return true }
    if let serial = selector.serial, serial == machine.serial { return true }
    return false
}

func parseQuery(_ text: String) -> [String: String] {
    var query: [String: String] = [:]
    for pair in text.split(separator: "&") {
        let (key, value) =
            pair.firstIndex(of: "=").map { (pair[..<$0], pair[pair.index(after: $0)...]) } ?? (pair[...], ""[...])
        query[decode(key)] = decode(value)
    }
    return query
}

func decode(_ text: Substring) -> String {
    let plain = text.replacingOccurrences(of: "+", with: " ")
    return plain.removingPercentEncoding ?? plain
}
