import BootPolicy
import DHCPv4
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `GET /boot.ipxe`: the machine's script as the inventory decides it, and the server name the
/// script is rendered with.
enum ScriptRoute {
    /// `GET /boot.ipxe?mac=..`: what the inventory decides for the machine, rendered.
    static func script(
        _ request: Request, context: VBootRequestContext, _ environment: HTTPService.Environment
    ) async throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let mac = query["mac"].flatMap(HardwareAddress.init)
        let serverURL = serverURL(host: request.head.authority, environment)
        let result: Inventory.ScriptResult
        do {
            result = try await environment.inventory.script(
                for: Inventory.ScriptRequest(
                    mac: mac, query: query, serverURL: serverURL, address: context.remoteIPv4),
                scripts: environment.scripts)
        } catch {
            environment.counters.increment(.httpScriptErrors)
            environment.logger.error("http: script for \(mac?.description ?? "unknown MAC"): \(error)")
            // iPXE shows the text of a failed script fetch; make it say what to fix.
            return plain(.internalServerError, "vboot: \(error)\n")
        }
        return answer(result, mac: mac, uuid: query["uuid"], environment)
    }

    /// The script, or why there is none, with its counter and log line.
    static func answer(
        _ result: Inventory.ScriptResult, mac: HardwareAddress?, uuid: String?, _ environment: HTTPService.Environment
    ) -> Response {
        switch result {
        case .refused(let reason):
            environment.counters.increment(.httpScriptsRefused)
            environment.logger.info("http: \(mac?.description ?? "no MAC") script refused: \(reason)")
            return plain(.forbidden, "vboot: \(reason)\n")
        case .explained(let text, let reason):
            // A script that says why: iPXE runs a script only from a 200 reply.
            environment.counters.increment(.httpScriptsRefused)
            environment.logger.info("http: \(mac?.description ?? "no MAC") script refused: \(reason); sent why")
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        case .script(let text, let summary):
            environment.counters.increment(.httpScriptsServed)
            environment.logger.info(
                "http: \(mac?.description ?? "no MAC") script \(summary)\(uuid.map { " uuid \($0)" } ?? "")")
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }

    /// `{{server}}`: the name the client reached vboot by, so scripts keep working through DNS
    /// names, but only when the `Host` header is a plain `host[:port]` (letters, digits, dots,
    /// dashes, or a bracketed IPv6 address; a port of digits). Anything else (spaces, `$`, `&`,
    /// quotes: text a client could splice into its script's commands) gives way to `fallback`.
    static func serverURL(host: String?, fallback: String) -> String {
        "http://" + (host.flatMap { isPlainAuthority($0) ? $0 : nil } ?? fallback)
    }

    /// `serverURL` with the listener's own address (`--listen`, else `localhost`) as the fallback.
    static func serverURL(host: String?, _ environment: HTTPService.Environment) -> String {
        let configuration = environment.configuration
        return serverURL(
            host: host, fallback: "\(configuration.listenAddress?.description ?? "localhost"):\(configuration.httpPort)"
        )
    }

    static func isPlainAuthority(_ authority: String) -> Bool {
        var name = Substring(authority)
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let address = name[name.index(after: name.startIndex)..<close]
            guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return false
            }
            name = name[name.index(after: close)...]
            guard name.isEmpty || name.hasPrefix(":") else { return false }
        } else {
            let host = name.prefix { $0 != ":" }
            guard !host.isEmpty, host.count <= 253,
                host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") })
            else { return false }
            name = name.dropFirst(host.count)
        }
        guard name.hasPrefix(":") else { return name.isEmpty }
        let port = name.dropFirst()
        return !port.isEmpty && port.count <= 5 && port.allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
