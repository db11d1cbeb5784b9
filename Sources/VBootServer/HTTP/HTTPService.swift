import BootPolicy
import DHCPv4
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore

/// The HTTP surface: per-machine scripts, iPXE binaries, assets, metrics.
enum HTTPService {
    struct Environment: Sendable {
        var configuration: ServerConfiguration
        var store: BootFileStore
        var scripts: BootScriptSource
        var inventory: Inventory
        var counters: ServerCounters
        var logger: Logger
        /// Small assets (scripts, configs, preseeds) kept in memory.
        var smallFiles = HotFileCache(limits: .init(maximumFileSize: smallFileLimit, maximumTotal: 16 << 20))
    }

    /// The boot listener (`--listen`, `--http-port`): what PXE clients and installers on the LAN
    /// fetch, and the installer's token-guarded callback. The API is not here (`makeAPIApplication`).
    static func makeApplication(
        _ environment: Environment, onBound: @escaping @Sendable (Int) -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: VBootRequestContext.self)
        router.get("/boot.ipxe") { request, context -> Response in
            try await script(request, context: context, environment)
        }
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/ipxe/:file", method: method) { request, context -> Response in
                let name = context.parameters.get("file") ?? ""
                return try await serve(
                    .ipxe, name, request: request, context: context, environment: environment)
            }
            router.on("/assets/**", method: method) { request, context -> Response in
                let path = context.parameters.getCatchAll().joined(separator: "/")
                return try await serve(
                    .assets, path, request: request, context: context, environment: environment)
            }
        }
        registerHealth(on: router)
        router.addRoutes(CallbackRoute.collection(environment), atPath: RouterPath(APIRoutes.prefix))
        let host = environment.configuration.listenAddress?.description ?? "0.0.0.0"
        // The boot listener never has TLS: iPXE and installers fetch plain HTTP.
        return application(
            router, "http", host: host, port: environment.configuration.httpPort, server: httpServer(environment),
            environment,
            onBound: onBound)
    }

    /// One API listener (`--api-listen`): `/api/v1`, `/metrics` and `/health`, behind the `Host`
    /// allow-list, over TLS when `tls` is given.
    static func makeAPIApplication(
        _ environment: Environment, listener: APIListenAddress, tls: TLSConfiguration?,
        onBound: @escaping @Sendable (Int) -> Void
    ) throws -> some ApplicationProtocol {
        let router = Router(context: VBootRequestContext.self)
        // First, so it guards every route added after it and the not-found answer too.
        router.add(
            middleware: APIHostCheck(
                policy: APIHostPolicy(extraNames: environment.configuration.apiHosts),
                counters: environment.counters, logger: environment.logger))
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: environment.counters.prometheusText() + ProcessMemory.current().prometheusText)))
        }
        registerHealth(on: router)
        APIRoutes.register(on: router, environment)
        let server =
            try tls.map { try HTTPServerBuilder.tls(httpServer(environment), tlsConfiguration: $0) }
            ?? httpServer(environment)
        return application(
            router, tls == nil ? "api" : "api (TLS)", host: listener.host, port: listener.port, server: server,
            environment, onBound: onBound)
    }

    private static func registerHealth(on router: Router<VBootRequestContext>) {
        router.get("/health") { _, _ in "ok\n" }
    }

    /// Every HTTP listener's connections (boot and API, TLS or not) are set up here: each
    /// listener has its own connection caps and timeouts, so a flood of the boot port cannot
    /// lock the admin out of the API.
    private static func httpServer(_ environment: Environment) -> HTTPServerBuilder {
        let connections = HTTPConnectionTable(
            limits: environment.configuration.httpLimits, counters: environment.counters, logger: environment.logger)
        return .http1(
            configuration: .init(additionalChannelHandlers: [FileRegionSender(), HTTPConnectionGuard(connections)]))
    }

    /// Every HTTP listener is built here.
    private static func application(
        _ router: Router<VBootRequestContext>, _ name: String, host: String, port: Int, server: HTTPServerBuilder,
        _ environment: Environment, onBound: @escaping @Sendable (Int) -> Void
    ) -> some ApplicationProtocol {
        let logger = environment.logger
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "vboot",
                // A 500-machine storm overflowed the default 256 (7 SYNs dropped, each a 1 s stall).
                backlog: 2048),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                onBound(bound)
                logger.info("\(name): listening on \(host) TCP \(bound)")
            },
            logger: silenced(logger)
        )
    }

    /// Hummingbird's own per-request lines at info would double vboot's decision lines.
    private static func silenced(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        return quiet
    }

    /// `GET /boot.ipxe?mac=..`: what the inventory decides for the machine, rendered.
    static func script(
        _ request: Request, context: VBootRequestContext, _ environment: Environment
    ) async throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let mac = query["mac"].flatMap(HardwareAddress.init)
        let serverURL = serverURL(
            host: request.head.authority,
            fallback:
                "\(environment.configuration.listenAddress?.description ?? "localhost"):\(environment.configuration.httpPort)"
        )
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
                "http: \(mac?.description ?? "no MAC") script \(summary)\(query["uuid"].map { " uuid \($0)" } ?? "")")
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

    static func serve(
        _ area: BootFileStore.Area, _ path: String, request: Request, context: VBootRequestContext,
        environment: Environment
    ) async throws -> Response {
        let file: BootFileStore.File
        switch environment.store.resolve(area, path) {
        case .success(let found): file = found
        case .failure(.notFound):
            environment.logger.info("http: \(request.method) /\(area.rawValue)/\(path): not found")
            throw HTTPError(.notFound)
        case .failure(.refused(let why)):
            environment.logger.warning("http: \(request.method) /\(area.rawValue)/\(path): \(why)")
            throw HTTPError(.forbidden)
        }
        var headers: HTTPFields = [.contentType: contentType(of: path), .acceptRanges: "bytes"]
        let range: ClosedRange<Int>?
        switch ByteRange.parse(request.headers[.range], size: file.size) {
        case .whole: range = nil
        case .partial(let r): range = r
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(file.size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        environment.counters.increment(.httpFilesServed)
        environment.inventory.recorder.record(
            .asset, .ok, address: context.remoteIPv4,
            summary: "\(request.method) /\(area.rawValue)/\(path)",
            details: ["file": path, "bytes": String(range?.count ?? file.size)]
                .merging(range.map { ["range": "\($0.lowerBound)-\($0.upperBound)"] } ?? [:]) { a, _ in a })
        environment.logger.info(
            "http: \(request.method) /\(area.rawValue)/\(path) \(range.map { "bytes \($0.lowerBound)-\($0.upperBound)/\(file.size)" } ?? "\(file.size) bytes")"
        )
        if request.method == .head {
            headers[.contentLength] = String(range?.count ?? file.size)
            if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)" }
            return Response(status: range == nil ? .ok : .partialContent, headers: headers)
        }
        if let range {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)"
            headers[.contentLength] = String(range.count)
            return Response(
                status: .partialContent, headers: headers,
                body: try fileBody(file, range, context: context, environment: environment))
        }
        headers[.contentLength] = String(file.size)
        if file.size == 0 { return Response(status: .ok, headers: headers) }
        return Response(
            status: .ok, headers: headers,
            body: try fileBody(file, 0...(file.size - 1), context: context, environment: environment))
    }

    /// Files up to this size are answered from memory as one buffer (head and body in one write);
    /// bigger ones go out with sendfile.
    static let smallFileLimit = 256 * 1024

    static func fileBody(
        _ file: BootFileStore.File, _ range: ClosedRange<Int>, context: VBootRequestContext, environment: Environment
    ) throws -> ResponseBody {
        if file.size <= smallFileLimit, let data = environment.smallFiles.contents(of: file.path),
            data.readableBytes == file.size, let slice = data.getSlice(at: range.lowerBound, length: range.count)
        {
            return ResponseBody(byteBuffer: slice)
        }
        let channel = context.channel
        return ResponseBody(contentLength: range.count) { writer in
            let sender = try await channel.pipeline.handler(type: FileRegionSender.self).get()
            let (handle, descriptor) = try FileReader.openForSending(file.path)
            // Closed only once the kernel has sent the region or the send failed.
            defer { try? handle.close() }
            let region = FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound + 1)
            let sent = channel.eventLoop.makePromise(of: Void.self)
            guard let (token, part) = sender.enqueue(region, promise: sent) else {
                sent.fail(FileRegionSender.Closed())
                throw FileRegionSender.Closed()
            }
            // A file truncated in place under the download (`cp new old`) makes sendfile return 0
            // for ever, and NIO retries as fast as the socket is writable: once a second, a
            // download still running checks the size and closes the connection if it shrank.
            let watchdog = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) {
                task in
                guard let size = FileReader.currentSize(of: descriptor), size <= range.upperBound else { return }
                task.cancel()
                environment.logger.warning("http: \(file.path) shrank to \(size) bytes during a download; closing it")
                channel.close(promise: nil)
            }
            defer { watchdog.cancel() }
            do {
                try await writer.write(part)
            } catch {
                if sender.withdraw(token) { sent.fail(error) }
            }
            try await sent.futureResult.get()
            try await writer.finish(nil)
        }
    }

    static func contentType(of path: String) -> String {
        if path.hasSuffix(".efi") { return "application/efi" }
        if path.hasSuffix(".ipxe") || path.hasSuffix(".cfg") || path.hasSuffix(".txt") {
            return "text/plain; charset=utf-8"
        }
        return "application/octet-stream"
    }
}

/// RFC 9110 §14.2 Range, single byte range (what iPXE, curl and installers send).
enum ByteRange: Equatable {
    case whole
    case partial(ClosedRange<Int>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int) -> ByteRange {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return .unsatisfiable }
            guard size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int(parts[0]), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        let end = parts[1].isEmpty ? size - 1 : min(Int(parts[1]) ?? -1, size - 1)
        guard end >= start else { return parts[1].isEmpty || Int(parts[1]) != nil ? .unsatisfiable : .whole }
        return .partial(start...end)
    }
}
