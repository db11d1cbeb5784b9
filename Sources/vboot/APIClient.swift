import ArgumentParser
import Foundation
import VBootAPI
import VBootServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// How `vboot machines` reaches a server: its URL and the API token.
struct APIOptions: ParsableArguments {
    /// `vboot serve`'s API listener on loopback (`APIListenAddress.loopback`), not the boot port.
    @Option(help: "vboot's API address, as in --api-listen (env VBOOT_SERVER).")
    var server: String = ProcessInfo.processInfo.environment["VBOOT_SERVER"] ?? "http://127.0.0.1:8081"

    @Option(help: "API bearer token (env VBOOT_TOKEN; default: read from --token-file).")
    var token: String?

    @Option(help: "File with the API token, as `vboot serve` writes it.")
    var tokenFile: String = "/var/lib/vboot/api-token"

    @Flag(help: "Print the API's JSON instead of a table.")
    var json = false

    func client() -> APIClient {
        let resolved = token ?? ProcessInfo.processInfo.environment["VBOOT_TOKEN"] ?? APITokenFile.read(path: tokenFile)
        return APIClient(base: server.hasSuffix("/") ? String(server.dropLast()) : server, token: resolved)
    }
}

/// A client for `/api/v1` speaking VBootAPI's contract types; API errors become the API's own
/// message.
struct APIClient {
    var base: String
    var token: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A call whose answer is `Reply`.
    func call<Reply: Decodable>(
        _ method: String, _ path: String, body: (some Encodable)? = Optional<MachineWrite>.none, as reply: Reply.Type
    ) async throws -> Reply {
        let data = try await send(method, path, body: body.map { APIContract.encode($0) })
        do { return try APIContract.decode(Reply.self, from: data) } catch {
            throw Failure(
                description: "vboot at \(base) answered \(method) \(path) with what this vboot cannot read: \(error)")
        }
    }

    /// A call with no answer body (DELETE).
    func call(_ method: String, _ path: String) async throws {
        _ = try await send(method, path, body: nil)
    }

    private func send(_ method: String, _ path: String, body: Data?) async throws -> Data {
        guard let url = URL(string: base + APIContract.prefix + path) else {
            throw Failure(description: "\(base) is not a URL (--server)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw Failure(description: "cannot reach vboot at \(base): \(error.localizedDescription) (--server)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            let reason = (try? APIContract.decode(APIErrorBody.self, from: data))?.error ?? "HTTP \(status)"
            let hint = status == 401 && token == nil ? " (no token: pass --token or --token-file)" : ""
            throw Failure(description: "\(reason)\(hint)")
        }
        return data
    }

    /// The API's answer as indented JSON, for `--json`.
    static func pretty(_ value: some Encodable) -> String {
        String(decoding: APIContract.encode(value, pretty: true), as: UTF8.self)
    }

    /// A path segment for a machine: MAC or uuid:/serial:/hostname: selector, percent-encoded.
    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
            ?? id
    }
}
