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
        var autoexec: IPXEAutoexec
        var inventory: Inventory
        var counters: ServerCounters
        var logger: Logger
        /// Upstream files (`--upstream`); nil without upstreams.
        var cache: AssetCache? = nil
        /// Small assets (scripts, configs, preseeds) kept in memory.
        var smallFiles = HotFileCache(limits: .init(maximumFileSize: FileRoute.smallFileLimit, maximumTotal: 16 << 20))
    }

    /// The boot listener (`--listen`, `--http-port`): what PXE clients and installers on the LAN
    /// fetch, and the installer's token-guarded callback. The API is not here (`makeAPIApplication`).
    static func makeApplication(
        _ environment: Environment, onBound: @escaping @Sendable (Int) -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: VBootRequestContext.self)
        router.get("/boot.ipxe") { request, context -> Response in
            try await ScriptRoute.script(request, context: context, environment)
        }
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/ipxe/:file", method: method) { request, context -> Response in
                let name = context.parameters.get("file") ?? ""
                if name == IPXEAutoexec.fileName {
                    return try AutoexecRoute.answer(request, context: context, environment)
                }
                return try await FileRoute.serve(
                    .ipxe, name, request: request, context: context, environment: environment)
            }
            router.on(RouterPath(IPXEAutoexec.httpPaths[0]), method: method) { request, context -> Response in
                try AutoexecRoute.answer(request, context: context, environment)
            }
            router.on("/assets/**", method: method) { request, context -> Response in
                let path = context.parameters.getCatchAll().joined(separator: "/")
                return try await FileRoute.serve(
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

    /// One API listener (`--api-listen`): `/api/v1`, the console (`/ui/`), `/metrics` and `/health`, behind the `Host`
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
        ConsoleRoute.register(on: router, directory: environment.configuration.consoleDirectory)
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
}
