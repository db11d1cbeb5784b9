import Testing

@testable import VBootServer

/// The settings table against what reads it: every key written in YAML reaches the same values as
/// its flag would, and a setting is marked reloadable exactly when a reload can apply it.
@Suite("Settings table")
struct SettingTableTests {
    /// Settings that only make sense with another (a certificate needs its key).
    static let companions: [SettingKey: (SettingKey, String)] = [
        .apiTLSCert: (.apiTLSKey, "/k"), .apiTLSKey: (.apiTLSCert, "/c"), .poolRange: (.poolNetmask, "255.255.255.0"),
    ]

    /// The settings as a config file: `api.listen` as `listen:` under `api:`.
    static func yaml(_ settings: [(SettingKey, String)]) -> String {
        var sections: [String: [String]] = [:]
        var text = ""
        for (key, value) in settings {
            let written: String
            switch key.setting.form {
            case .single: written = "\"\(value)\""
            case .list: written = "[\"\(value)\"]"
            case .pairs:
                let pair = value.split(separator: "=", maxSplits: 1)
                written = "{\(pair[0]): \"\(pair[1])\"}"
            }
            let parts = key.rawValue.split(separator: ".").map(String.init)
            if parts.count == 2 {
                sections[parts[0], default: []].append("  \(parts[1]): \(written)")
            } else {
                text += "\(parts[0]): \(written)\n"
            }
        }
        for (section, lines) in sections { text += "\(section):\n" + lines.joined(separator: "\n") + "\n" }
        return text
    }

    @Test(arguments: SettingKey.allCases)
    func theConfigFileKeyReadsWhatTheFlagReads(key: SettingKey) throws {
        let text = Self.yaml([(key, key.setting.example)] + (Self.companions[key].map { [$0] } ?? []))
        let file = try ConfigFile.parse(text, path: "/etc/vboot/vboot.yaml")
        #expect(file.settings[key] == [key.setting.example], "\(text)")
    }

    @Test(arguments: SettingKey.allCases)
    func reloadableExactlyWhenAReloadAppliesIt(key: SettingKey) throws {
        var given = SettingValues()
        try given.set(key, [key.setting.example])
        if let (other, value) = Self.companions[key] { try given.set(other, [value]) }
        let base = ServerConfiguration()
        let changed = LiveSettings.Values(try given.configuration(base: base)) != LiveSettings.Values(base)
        #expect(changed == key.setting.reloadable, "\(key.rawValue) = \(key.setting.example)")
    }

    @Test func flagsAreUnique() {
        let flags = SettingKey.allCases.map(\.setting.flag)
        #expect(Set(flags).count == flags.count)
    }
}
