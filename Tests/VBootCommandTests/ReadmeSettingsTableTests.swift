import Foundation
import Testing
import VBootServer

/// README.md's settings table is rendered from the settings table; this test fails when they
/// differ. `VBOOT_UPDATE_README=1 swift test --filter ReadmeSettingsTable` rewrites it.
@Suite("README settings table")
struct ReadmeSettingsTableTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../README.md").standardized
    static let begin = "<!-- settings table: generated from SettingKey.setting, see Tests/VBootCommandTests -->\n"
    static let end = "<!-- end of settings table -->\n"

    static func rendered() -> String {
        func cell(_ text: String) -> String {
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        var lines = ["| flag | config key | default | reload | what |", "|---|---|---|---|---|"]
        for key in SettingKey.allCases {
            let setting = key.setting
            lines.append(
                "| `--\(setting.flag) \(cell(setting.valueName))` | `\(key.rawValue)` | \(cell(setting.default.markdown)) | "
                    + "\(setting.reloadable ? "yes" : "") | \(cell(setting.help)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func matchesTheSettings() throws {
        let text = try String(contentsOf: Self.readme, encoding: .utf8)
        let start = try #require(text.range(of: Self.begin), "README.md lacks \(Self.begin)")
        let stop = try #require(text.range(of: Self.end, range: start.upperBound..<text.endIndex))
        let current = String(text[start.upperBound..<stop.lowerBound])
        let wanted = Self.rendered()
        if current != wanted, ProcessInfo.processInfo.environment["VBOOT_UPDATE_README"] == "1" {
            try text.replacingCharacters(in: start.upperBound..<stop.lowerBound, with: wanted)
                .write(to: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(
            current == wanted,
            "README.md's settings table is stale: VBOOT_UPDATE_README=1 swift test --filter ReadmeSettingsTable")
    }
}
