import Foundation

/// What the server reads of `manifest.json`, which `vboot rom build` writes beside its outputs:
/// the names of the files the build put in that directory (its NIC option ROMs among them), so
/// `/ipxe/` may serve them. The full type is the Firmware target's; the server does not depend
/// on the firmware tooling, and needs only the names.
struct ROMBuildManifest: Decodable {
    struct File: Decodable {
        var name: String
    }

    var files: [File]

    static let fileName = "manifest.json"

    /// The listed names that are plain file names in the manifest's own directory (a name with a
    /// slash or a dot-only name is dropped, not followed).
    var fileNames: Set<String> {
        Set(
            files.map(\.name).filter { name in
                !name.isEmpty && name != "." && name != ".." && name != Self.fileName
                    && !name.contains(where: { $0 == "/" || $0 == "\\" || $0 == "\0" })
            })
    }

    /// Parsed once per manifest version.
    static let cache = ParsedFileCache<Set<String>> { _, text in
        try JSONDecoder().decode(ROMBuildManifest.self, from: Data(text.utf8)).fileNames
    }

    /// The names the manifest in `directory` lists; none when there is no manifest or it does
    /// not parse (then nothing but the iPXE binaries is served from that directory).
    static func fileNames(in directory: String) -> Set<String> {
        (try? cache.value(at: directory + "/" + fileName)) ?? []
    }
}
