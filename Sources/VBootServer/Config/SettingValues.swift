import BootPolicy

/// The settings given, by key, as written (one string per value, list item or KEY=VALUE pair),
/// each checked when it was set. The config file and the flags each make one; the flags are laid
/// over the file, and the result over a base configuration (the defaults).
public struct SettingValues: Sendable, Hashable {
    public private(set) var values: [SettingKey: [String]] = [:]

    public init() {}

    public subscript(key: SettingKey) -> [String]? { values[key] }

    /// Sets `key` to `given` after checking it; an empty list leaves the setting unset.
    public mutating func set(_ key: SettingKey, _ given: [String]) throws(SettingError) {
        guard !given.isEmpty else { return }
        var scratch = SettingTarget(configuration: ServerConfiguration())
        try key.setting.apply(given, &scratch)
        values[key] = given
    }

    /// `other`'s values win where it has them (flags over the file). KEY=VALUE settings add up,
    /// `other`'s pairs last (a flag's `uefi=boot-server` keeps the file's `bios=`); a TLS
    /// certificate and its key come from the same place.
    public func overlaid(with other: SettingValues) -> SettingValues {
        var merged = self
        if other.values[.apiTLSCert] != nil || other.values[.apiTLSKey] != nil {
            merged.values[.apiTLSCert] = nil
            merged.values[.apiTLSKey] = nil
        }
        merged.values.merge(other.values) { file, flag in file + flag }
        for key in merged.values.keys where key.setting.form != .pairs && other.values[key] != nil {
            merged.values[key] = other.values[key]
        }
        return merged
    }

    /// `base` with every given setting applied, in the table's order, then the checks that need
    /// all of them (a TLS certificate with its key, the pool against the listen address).
    public func configuration(base: ServerConfiguration) throws(SettingError) -> ServerConfiguration {
        var target = SettingTarget(configuration: base)
        for key in SettingKey.allCases {
            guard let given = values[key] else { continue }
            try key.setting.apply(given, &target)
        }
        switch (target.apiTLSCertificate, target.apiTLSKey) {
        case (let certificate?, let key?): target.configuration.apiTLS = APITLSFiles(certificate: certificate, key: key)
        case (nil, nil): break
        default: throw SettingError("api.tls_cert (--api-tls-cert) and api.tls_key (--api-tls-key) go together")
        }
        do {
            if let pool = try target.pool.resolve(listen: target.configuration.listenAddress) {
                target.configuration.pool = pool
            }
        } catch {
            throw SettingError("DHCP pool: \(error)")
        }
        target.configuration.givenSettings = self
        return target.configuration
    }

    /// Settings a reload cannot apply whose values differ, by config key (for the restart warning).
    public func restartOnlyChanges(to other: SettingValues) -> [String] {
        SettingKey.allCases.filter { !$0.setting.reloadable && values[$0] != other.values[$0] }.map(\.rawValue)
    }
}

extension ServerConfiguration {
    /// `base`, then the config file's settings and variables, then the flags: how `vboot serve`
    /// starts and reloads, and how the tests start a server from YAML.
    public static func merged(
        base: ServerConfiguration, file: ConfigFile?, flags: SettingValues = SettingValues()
    ) throws(SettingError) -> ServerConfiguration {
        var configuration = try (file?.settings ?? SettingValues()).overlaid(with: flags).configuration(base: base)
        if let file { configuration.siteVariables = file.variables }
        return configuration
    }
}
