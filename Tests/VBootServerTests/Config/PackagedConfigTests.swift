import Foundation
import Testing
import VBootServer

/// packaging/vboot.yaml, the package's /etc/vboot/vboot.yaml: as shipped (every key commented
/// out) and with every example line switched on, it must load; a new key or a renamed one in
/// the reader breaks this test before it breaks an admin's first edit.
@Suite("Packaged config example")
struct PackagedConfigTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../packaging/vboot.yaml").standardized.path

    @Test func loadsAsShipped() throws {
        let file = try ConfigFile.load(path: Self.path)
        #expect(file.settings == SettingValues() && file.machines.isEmpty)
    }

    /// Example lines are `#key: value` or `#  nested`; prose comments are `# text`.
    @Test func loadsWithEveryExampleLineOn() throws {
        let text = try String(contentsOfFile: Self.path, encoding: .utf8)
        var switchedOn = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard line.wholeMatch(of: /#([a-z_]+:.*|  [a-z_-].*)/) != nil else { return line }
            switchedOn += 1
            return line.dropFirst()
        }
        #expect(switchedOn >= 15)
        let file = try ConfigFile.parse(lines.joined(separator: "\n"), path: Self.path)
        #expect(file.settings[.listen] != nil && file.settings[.dhcp] == ["proxy"] && file.machines.count == 1)
        #expect(file.settings[.apiTLSKey] == ["/etc/vboot/api.key"] && file.variables["mirror"] != nil)
    }
}
