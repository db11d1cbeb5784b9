import Foundation
import NIOSSL

/// `--api-tls-cert FILE --api-tls-key FILE`: PEM files, read once at start. A file that cannot be
/// read or parsed, or a key that is not the certificate's, stops the start with the reason.
public struct APITLSFiles: Sendable, Hashable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    func serverConfiguration() throws(StartupError) -> TLSConfiguration {
        for (flag, path) in [("--api-tls-cert", certificate), ("--api-tls-key", key)] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw StartupError("\(flag) \(path) cannot be read")
            }
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw StartupError("--api-tls-cert \(certificate) is not a PEM certificate: \(error)")
        }
        guard !chain.isEmpty else { throw StartupError("--api-tls-cert \(certificate) holds no PEM certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw StartupError("--api-tls-key \(key) is not a PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Builds the context as the listener will: BoringSSL checks that the key fits.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw StartupError("--api-tls-key \(key) does not belong to --api-tls-cert \(certificate): \(error)")
        }
        return configuration
    }
}
