import Foundation
import Glibc
import Logging

/// The API's bearer token lives in a file only root (or the service user) can read. A missing
/// file gets a fresh random token; the log names the file, never the token (logs are copied,
/// shipped and pasted into tickets).
public enum APITokenFile {
    public static let defaultName = "api-token"

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func loadOrCreate(path: String, logger: Logger) throws -> String {
        if let data = FileManager.default.contents(atPath: path) {
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= 16, !token.contains(where: \.isWhitespace) else {
                throw Failure(description: "API token file \(path) must hold one token of 16 or more characters")
            }
            PrivateFiles.tighten(file: path, logger: logger)
            return token
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", generator.next() as UInt8) }.joined()
        if let failure = PrivateFiles.create(path, contents: token + "\n") {
            throw Failure(
                description:
                    "cannot write the API token file \(path) (--api-token-file): \(String(cString: strerror(failure)))")
        }
        logger.notice("API token generated and saved in \(path) (mode 0600; read it there)")
        return token
    }

    /// For `vboot machines`: the token from the file, if readable.
    public static func read(path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }
}
