import Firmware
import Foundation

/// Fixtures in `Fixtures/` (provenance in Fixtures/README.md): OVMF VARS files, gzip-compressed,
/// and virt-fw-vars' JSON dumps and outputs for them.
enum VariableStoreFixture {
    static let inputs = ["ovmf-vars-4m", "ovmf-vars-4m-ms", "ovmf-vars-2m", "booted", "booted-net"]

    static func url(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    }

    /// `name.fd.gz` decompressed (with the system gzip; Foundation has no inflate on Linux).
    static func varsFile(_ name: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", url("\(name).fd.gz").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FixtureError.gzipFailed(name) }
        return [UInt8](data)
    }

    static func store(_ name: String) throws -> VariableStore {
        try VariableStore(parsing: varsFile(name))
    }

    /// One variable of a virt-fw-vars `--output-json` dump.
    struct DumpedVariable {
        var name: String
        var guid: String
        var attributes: UInt32
        var dataHex: String
        /// EFI_TIME as virt-fw-vars re-encodes it, only for variables with a non-zero year.
        var timeHex: String?
    }

    static func json(_ name: String) throws -> [DumpedVariable] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
        guard let root = object as? [String: Any], let variables = root["variables"] as? [[String: Any]] else {
            throw FixtureError.badJSON(name)
        }
        return try variables.map { entry in
            guard let name = entry["name"] as? String, let guid = entry["guid"] as? String,
                let attributes = entry["attr"] as? Int, let data = entry["data"] as? String
            else { throw FixtureError.badJSON(name) }
            return DumpedVariable(
                name: name, guid: guid, attributes: UInt32(attributes), dataHex: data, timeHex: entry["time"] as? String
            )
        }
    }

    enum FixtureError: Error {
        case gzipFailed(String)
        case badJSON(String)
    }
}

extension VariableStoreFixture {
    /// Lower-case hex, as in virt-fw-vars' JSON.
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
