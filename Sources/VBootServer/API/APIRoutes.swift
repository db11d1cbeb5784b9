import BootPolicy
import DHCPv4
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VBootAPI
import VBootStore

/// `/api/v1`: machines (MachineRoutes), timelines, profiles and leases (InventoryReadRoutes), the
/// installer callback (CallbackRoute), the OpenAPI document. The bodies are VBootAPI's
/// contract types; every refusal is `APIErrorBody` (`{"error": "..."}`) with a status that says
/// which kind.
enum APIRoutes {
    static let prefix = APIContract.prefix
    /// Bodies are small JSON objects; anything bigger is a mistake or an attack.
    static let maximumBody = 256 * 1024

    static func register(on router: Router<VBootRequestContext>, _ environment: HTTPService.Environment) {
        let inventory = environment.inventory
        router.addRoutes(MachineRoutes.collection(inventory), atPath: RouterPath(prefix))
        router.addRoutes(InventoryReadRoutes.collection(inventory), atPath: RouterPath(prefix))
        let events = RouteCollection(context: VBootRequestContext.self)
        EventStreamRoute.register(on: events, inventory)
        router.addRoutes(events, atPath: RouterPath(prefix))
        router.addRoutes(CallbackRoute.collection(environment), atPath: RouterPath(prefix))
        router.get("\(prefix)/openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.on("\(prefix)/**", method: .get) { _, _ -> Response in
            failure(APIError.notFound("no such API path; see \(prefix)/openapi.json"))
        }
    }

    /// A route that needs `level` of access: the bearer token, or (reads) a read network.
    static func guarded(
        _ live: LiveSettings, _ level: APIAccess.Level,
        _ handler: @escaping @Sendable (Request, VBootRequestContext) async throws(APIError) -> Response
    ) -> @Sendable (Request, VBootRequestContext) async throws -> Response {
        { request, context in
            let access = live.current.apiAccess
            guard access.allows(level, authorization: request.headers[.authorization], from: context.remoteIPv4)
            else {
                let reason =
                    access.token == nil && level == .write
                    ? "no API token is configured on this server" : "missing or wrong bearer token"
                return json(status: .unauthorized, APIErrorBody(error: reason), headers: [.wwwAuthenticate: "Bearer"])
            }
            do { return try await handler(request, context) } catch { return failure(error) }
        }
    }

    // MARK: Plumbing

    /// `:id` is a MAC, or `uuid:…`, `serial:…`, `hostname:…`; anything else is taken as a host name.
    static func find(_ context: VBootRequestContext, _ inventory: Inventory) async throws(APIError) -> Machine {
        let id = identifier(context)
        let selector: MachineSelector
        if let mac = HardwareAddress(id) {
            selector = MachineSelector(mac: mac)
        } else if id.hasPrefix("uuid:") {
            selector = MachineSelector(uuid: String(id.dropFirst(5)))
        } else if id.hasPrefix("serial:") {
            selector = MachineSelector(serial: String(id.dropFirst(7)))
        } else if id.hasPrefix("hostname:") {
            selector = MachineSelector(hostname: String(id.dropFirst(9)))
        } else if let hostname = Validate.hostname(id) {
            selector = MachineSelector(hostname: hostname)
        } else {
            throw .badRequest("\"\(id)\" is not a MAC address, host name or uuid:…, serial:…, hostname:…")
        }
        guard !selector.isEmpty, let machine = try await storeCall({ try await inventory.store.machine(selector) })
        else { throw .notFound("no machine \(id)") }
        return machine
    }

    /// `:id` as sent, percent-decoded (a browser's `encodeURIComponent` writes a MAC's colons as `%3A`).
    static func identifier(_ context: VBootRequestContext) -> String {
        let raw = context.parameters.get("id") ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    static func checkProfile(_ name: String?, _ inventory: Inventory) throws(APIError) {
        guard let name else { return }
        do { _ = try inventory.profiles.profile(named: name) } catch { throw .badRequest("profile: \(error)") }
    }

    static func body(_ request: Request) async throws(APIError) -> MachineWrite {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBody)
        } catch {
            throw APIError(status: 413, reason: "request body larger than \(maximumBody) bytes")
        }
        return try MachineJSON.write(from: Data(buffer.readableBytesView))
    }

    /// Store failures become clear API errors: a taken selector is a 409, an outage a 503.
    static func storeCall<T>(_ body: () async throws -> T) async throws(APIError) -> T {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch StoreError.exists(let what) {
            throw .conflict("already in the inventory: \(what)")
        } catch {
            throw APIError(status: 503, reason: "store: \(error)")
        }
    }

    static func failure(_ error: any Error) -> Response {
        let apiError = error as? APIError ?? APIError(status: 500, reason: "\(error)")
        return json(status: HTTPResponse.Status(code: apiError.status), APIErrorBody(error: apiError.reason))
    }

    static func json(
        status: HTTPResponse.Status = .ok, _ value: some Encodable, headers: HTTPFields = [:]
    ) -> Response {
        let data = APIContract.encode(value)
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(
            status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}
