import Crypto
import Foundation

/// Hex SHA-256 for build manifests and cache keys, computed by swift-crypto (already compiled
/// for postgres-nio's authentication).
public enum Checksum {
    public static func sha256(_ bytes: some DataProtocol) -> String {
        Crypto.SHA256.hash(data: bytes).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
