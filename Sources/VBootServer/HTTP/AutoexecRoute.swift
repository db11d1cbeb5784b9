import BootPolicy
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET`/`HEAD /ipxe/autoexec.ipxe` and `/autoexec.ipxe` (`IPXEAutoexec`): vboot's embedded
/// script for the server the client reached, for an iPXE that carries none.
enum AutoexecRoute {
    static func answer(
        _ request: Request, context: VBootRequestContext, _ environment: HTTPService.Environment
    ) throws -> Response {
        let what = "\(request.method) \(request.uri.path)"
        let server = ScriptRoute.serverURL(host: request.head.authority, environment)
        guard let script = environment.autoexec.script(server: server) else {
            environment.logger.info("http: \(what): not found (no ipxe/embed.ipxe to make it from)")
            throw HTTPError(.notFound)
        }
        let body = ByteBuffer(string: script)
        environment.counters.increment(.httpFilesServed)
        environment.inventory.recorder.record(
            .asset, .ok, address: context.remoteIPv4, summary: what,
            details: ["file": IPXEAutoexec.fileName, "bytes": String(body.readableBytes)])
        environment.logger.info("http: \(what) \(body.readableBytes) bytes (vboot's embedded script)")
        let headers: HTTPFields = [
            .contentType: "text/plain; charset=utf-8", .cacheControl: "no-store",
            .contentLength: String(body.readableBytes),
        ]
        guard request.method != .head else { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
