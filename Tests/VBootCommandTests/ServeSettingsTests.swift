import ArgumentParser
import Foundation
import Testing
import VBootServer

@testable import vboot

/// `vboot serve`'s flags against the settings table, without argv: every setting has its flag,
/// a flag's value reaches the configuration over the file's, a bad one names the flag, and the
/// documented defaults are the real ones.
@Suite("vboot serve settings")
struct ServeSettingsTests {
    @Test(arguments: SettingKey.allCases)
    func everySettingIsAFlag(key: SettingKey) throws {
        let setting = key.setting
        let serve = try Serve.parse(["--\(setting.flag)", setting.example])
        let given = serve.given.filter { !$0.1.isEmpty }
        #expect(given.map(\.0) == [key], "--\(setting.flag) lands on \(given.map(\.0))")
        #expect(given.first?.1 == [setting.example])
        #expect(try serve.flagSettings()[key] == [setting.example])
    }

    @Test func eachSettingIsCollectedOnce() throws {
        let keys = try Serve.parse([]).given.map(\.0)
        #expect(keys.count == SettingKey.allCases.count)
        #expect(Set(keys) == Set(SettingKey.allCases))
    }

    @Test func flagsWinOverTheFileAndTheFileOverTheDefaults() throws {
        let file = try ConfigFile.parse(
            "http_port: 81\ntftp_port: 70\napi: {read_networks: [10.0.0.0/8]}\n", path: "/etc/vboot/vboot.yaml")
        let serve = try Serve.parse(["--http-port", "82", "--api-read-network", "192.168.0.0/16", "--dhcp", "off"])
        let configuration = try serve.makeConfiguration(file: file)
        #expect(configuration.httpPort == 82 && configuration.tftpPort == 70 && configuration.dhcpPort == 67)
        #expect(configuration.apiAccess.readNetworks.map(\.description) == ["192.168.0.0/16"])
        #expect(configuration.dhcpMode == .off && configuration.dataDirectory == "/var/lib/vboot")
    }

    @Test func flagPairsAddToTheFilesAndATLSPairComesFromOnePlace() throws {
        let file = try ConfigFile.parse(
            "pxe_strategy: {bios: boot-server}\napi: {tls_cert: /c, tls_key: /k}\n", path: "/etc/vboot/vboot.yaml")
        let configuration = try Serve.parse(["--pxe-strategy", "uefi=boot-server"]).makeConfiguration(file: file)
        #expect(configuration.proxyStrategies.strategy(for: .bios) == .bootServer)
        #expect(configuration.proxyStrategies.strategy(for: .uefi) == .bootServer)
        #expect(configuration.apiTLS == APITLSFiles(certificate: "/c", key: "/k"))
        #expect(throws: (any Error).self) {
            try Serve.parse(["--api-tls-cert", "/other.crt"]).makeConfiguration(file: file)
        }
    }

    @Test func repeatedFlagsMakeAListAndTheLastSingleValueWins() throws {
        let serve = try Serve.parse([
            "--ipxe-dir", "a", "--ipxe-dir", "b", "--http-port", "1", "--http-port", "2",
            "--pxe-strategy", "uefi=boot-server", "--pxe-strategy", "bios=boot-server",
        ])
        let configuration = try serve.makeConfiguration(file: nil)
        #expect(configuration.ipxeDirectories == ["a", "b"] && configuration.httpPort == 2)
        #expect(configuration.proxyStrategies.strategy(for: .bios) == .bootServer)
        #expect(configuration.proxyStrategies.strategy(for: .uefi) == .bootServer)
    }

    @Test(arguments: [
        (["--http-port", "70000"], "--http-port: \"70000\" is not a number from 0 to 65535"),
        (["--api-read-network", "10.0.0.0/33"], "--api-read-network: \"10.0.0.0/33\" is not a network"),
        (["--pxe-strategy", "uefi=sideways"], "--pxe-strategy: "),
        (
            ["--dhcp-range", "10.0.0.9-10.0.0.1"],
            "--dhcp-range: range 10.0.0.9-10.0.0.1: the first address is after the last"
        ),
        (["--api-tls-cert", "a.crt"], "api.tls_cert (--api-tls-cert) and api.tls_key (--api-tls-key) go together"),
        (["--dhcp-range", "10.0.0.1-10.0.0.9"], "DHCP pool: the DHCP pool needs a netmask"),
    ])
    func aBadValueNamesItsFlagAndReason(arguments: [String], message: String) throws {
        let serve = try Serve.parse(arguments)
        #expect {
            try serve.makeConfiguration(file: nil)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func enumFlagsRefuseWhatIsNotAChoice() {
        for arguments in [["--dhcp", "full-ish"], ["--unknown-machines", "maybe"], ["--log-level", "loud"]] {
            #expect(throws: (any Error).self, "\(arguments)") { try Serve.parse(arguments) }
        }
    }

    /// A default written as a value is the real default: giving it changes nothing.
    @Test(arguments: SettingKey.allCases)
    func aDocumentedDefaultValueIsTheDefault(key: SettingKey) throws {
        guard case .value(let value) = key.setting.default else { return }
        // The pool's settings only count with a pool.
        let pool =
            key.rawValue.hasPrefix("pool.")
            ? ["--dhcp-range", "10.0.0.10-10.0.0.20", "--dhcp-netmask", "255.255.255.0"] : []
        let serve = try Serve.parse(["--\(key.setting.flag)", value] + pool)
        var configuration = try serve.makeConfiguration(file: nil)
        configuration.givenSettings = SettingValues()
        var untouched = try Serve.parse(pool).makeConfiguration(file: nil)
        untouched.givenSettings = SettingValues()
        #expect(String(describing: configuration) == String(describing: untouched), "--\(key.setting.flag) \(value)")
    }

    @Test func aReloadNamesTheChangesThatWaitForARestart() throws {
        let old = try Serve.parse(["--http-port", "80", "--unknown-machines", "register"]).flagSettings()
        let new = try Serve.parse(["--http-port", "81", "--unknown-machines", "ignore", "--assets", "/srv"])
            .flagSettings()
        #expect(old.restartOnlyChanges(to: new) == ["http_port", "assets"])
    }
}
