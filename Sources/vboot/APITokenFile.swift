import Foundation
import Logging

/// The API's bearer token lives in a file only root (or the service user) can read. A missing
/// file gets a fresh random token, printed once so the admin can copy it.
enum APITokenFile {
    static let defaultName = "api-token"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func loadOrCreate(path: String, logger: Logger) throws -> String {
        if let data = FileManager.default.contents(atPath: path) {
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= 16, !token.contains(where: \.isWhitespace) else {
                throw Failure(description: "API token file \(path) must hold one token of 16 or more characters")
            }
            return token
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", generator.next() as UInt8) }.joined()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else {
            throw Failure(description: "cannot write the API token file \(path) (--api-token-file)")
        }
        logger.notice("API token generated and saved in \(path) (shown once): \(token)")
        return token
    }

    /// For `vboot machines`: the token from the file, if readable.
    static func read(path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
}
