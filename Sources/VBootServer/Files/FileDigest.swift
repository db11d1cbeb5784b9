import Crypto
import Glibc

/// A whole file's SHA-256, read in 1 MiB pieces (cache verification, image manifests).
public enum FileDigest {
    /// Lowercase hex; nil when the file cannot be read.
    public static func sha256(ofFile path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return sha256(ofDescriptor: descriptor)
    }

    /// From the descriptor's current offset to its end.
    public static func sha256(ofDescriptor descriptor: Int32) -> String? {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return CacheHash.hex(hasher.finalize())
    }
}
