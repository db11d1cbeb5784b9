import BootPolicy
import DHCPv4
import Foundation
import Yams

/// `vboot serve --config FILE`: server settings, site variables and declared machines in YAML.
/// Every field is optional; command-line flags win over the file. Relative paths are relative
/// to the file's directory.
///
///     listen: 10.0.0.2
///     dhcp: proxy
///     boot_scripts: boot-scripts
///     unknown_machines: register
///     api: { token_file: /var/lib/vboot/api-token, read_networks: [10.0.0.0/24] }
///     # api: { listen: [10.0.0.2:8443], hosts: [vboot.lab], tls_cert: api.crt, tls_key: api.key }
///     timeline: { per_machine: 1000, days: 30 }
///     variables: { mirror: "http://mirror.lan/debian" }
///     machines:
///       - { mac: "52:54:00:12:34:56", hostname: node1, profile: debian, next_boot: once }
public struct ConfigFile: Sendable {
    public var path: String
    /// Every setting the file gives (`SettingKey`), relative paths already made absolute.
    public var settings = SettingValues()
    public var variables: [String: String] = [:]
    /// Declared machines. Their identity, profile and variables follow the file on every load;
    /// `next_boot` is only the state a machine starts in when the file first adds it.
    public var machines: [Machine] = []

    /// Top-level keys: plain settings, the sections holding dotted ones (`api`, `pool`,
    /// `timeline`), and the file's own lists.
    static let topLevelKeys: [String] = {
        var keys: [String] = []
        for key in SettingKey.allCases {
            let top = String(key.rawValue.prefix { $0 != "." })
            if !keys.contains(top) { keys.append(top) }
        }
        return keys + ["variables", "machines"]
    }()

    public static func load(path: String) throws(ConfigError) -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: path, line: 0, column: 0, reason: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigError) -> ConfigFile {
        let reader = ConfigReader(path: path)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else { return ConfigFile(path: path) }
            root = composed
        } catch let error as YamlError {
            throw reader.error(from: error)
        } catch {
            throw ConfigError(path: path, line: 0, column: 0, reason: "\(error)")
        }
        var file = ConfigFile(path: path)
        var sections: [String: Node] = [:]
        for (key, node) in try reader.mapping(root, "the top level", known: topLevelKeys) {
            sections[key] = node
            switch key {
            case "variables":
                for (name, value) in try reader.mapping(node, key, known: nil) {
                    let text = try reader.string(value, "variables.\(name)")
                    do { try Validate.variable(name: name, value: text) } catch {
                        throw reader.error(at: value, error.reason)
                    }
                    file.variables[name] = text
                }
            case "machines":
                let nodes = try reader.sequence(node, key)
                for item in nodes { file.machines.append(try reader.machine(item)) }
                try reader.checkUnique(file.machines, nodes: nodes)
            default:
                if let setting = SettingKey(rawValue: key) {
                    try file.read(setting, node, reader)
                } else {
                    let section = SettingKey.allCases.filter { $0.rawValue.hasPrefix(key + ".") }
                    let fields = section.map { String($0.rawValue.dropFirst(key.count + 1)) }
                    for (field, value) in try reader.mapping(node, key, known: fields) {
                        try file.read(section[fields.firstIndex(of: field)!], value, reader)
                    }
                }
            }
        }
        if (file.settings[.apiTLSCert] == nil) != (file.settings[.apiTLSKey] == nil) {
            throw reader.error(at: sections["api"] ?? root, "api: tls_cert and tls_key go together")
        }
        return file
    }

    /// One setting's node: each value is checked where it stands, so an error names its line.
    mutating func read(_ key: SettingKey, _ node: Node, _ reader: ConfigReader) throws(ConfigError) {
        let setting = key.setting
        var items: [(String, Node)] = []
        switch setting.form {
        case .single: items = [(try reader.string(node, key.rawValue), node)]
        case .list:
            let nodes = node.sequence != nil ? try reader.sequence(node, key.rawValue) : [node]
            for item in nodes { items.append((try reader.string(item, key.rawValue), item)) }
        case .pairs:
            for (name, value) in try reader.mapping(node, key.rawValue, known: nil) {
                items.append(("\(name)=\(try reader.string(value, "\(key.rawValue).\(name)"))", value))
            }
        }
        var given: [String] = []
        for (text, itemNode) in items {
            let value = resolve(text, setting.paths)
            var single = SettingValues()
            do { try single.set(key, [value]) } catch { throw reader.error(at: itemNode, "\(key.rawValue): \(error)") }
            given.append(value)
        }
        do { try settings.set(key, given) } catch { throw reader.error(at: node, "\(key.rawValue): \(error)") }
    }

    /// A relative path made relative to the file's directory (`sqlite:PATH` too).
    func resolve(_ text: String, _ rule: PathRule) -> String {
        let base = (path as NSString).deletingLastPathComponent
        switch rule {
        case .none: return text
        case .pathUnlessURL where text.contains("://"): return text
        case .pathUnlessURL where text.hasPrefix("sqlite:"):
            return "sqlite:" + resolve(String(text.dropFirst("sqlite:".count)), .path)
        case .path, .pathUnlessURL:
            return text.hasPrefix("/") || base.isEmpty ? text : base + "/" + text
        }
    }
}
