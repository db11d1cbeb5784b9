import BootPolicy
import DHCPv4
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VBootAPI
import VBootStore

/// `/api/v1`: machines, profiles, timelines, the installer callback. The bodies are VBootAPI's
/// contract types; every refusal is `APIErrorBody` (`{"error": "..."}`) with a status that says
/// which kind.
enum APIRoutes {
    static let prefix = APIContract.prefix
    /// Bodies are small JSON objects; anything bigger is a mistake or an attack.
    static let maximumBody = 256 * 1024

    static func register(on router: Router<VBootRequestContext>, _ environment: HTTPService.Environment) {
        let inventory = environment.inventory
        let live = inventory.live

        func guarded(
            _ level: APIAccess.Level,
            _ handler: @escaping @Sendable (Request, VBootRequestContext) async throws(APIError) -> Response
        ) -> @Sendable (Request, VBootRequestContext) async throws -> Response {
            { request, context in
                let access = live.current.apiAccess
                guard access.allows(level, authorization: request.headers[.authorization], from: context.remoteIPv4)
                else {
                    let reason =
                        access.token == nil && level == .write
                        ? "no API token is configured on this server" : "missing or wrong bearer token"
                    return json(
                        status: .unauthorized, APIErrorBody(error: reason), headers: [.wwwAuthenticate: "Bearer"])
                }
                do { return try await handler(request, context) } catch { return failure(error) }
            }
        }

        router.get(
            "\(prefix)/machines",
            use: guarded(.read) { _, _ throws(APIError) in
                let machines = try await storeCall { try await inventory.store.machines() }
                return json(MachineList(machines: machines.map(MachineJSON.resource)))
            })
        router.post(
            "\(prefix)/machines",
            use: guarded(.write) { request, _ throws(APIError) in
                let machine = try MachineJSON.create(from: try await body(request))
                try checkProfile(machine.profile, inventory)
                try await storeCall { try await inventory.insert(machine, by: "api") }
                let stored = try await storeCall {
                    try await inventory.store.machine(MachineSelector(mac: machine.mac))
                }
                return json(status: .created, MachineJSON.resource(stored ?? machine))
            })
        router.get(
            "\(prefix)/machines/:id",
            use: guarded(.read) { _, context throws(APIError) in
                json(MachineJSON.resource(try await find(context, inventory)))
            })
        router.patch(
            "\(prefix)/machines/:id",
            use: guarded(.write) { request, context throws(APIError) in
                let machine = try await find(context, inventory)
                let write = try await body(request)
                // Validate against the current record first so a bad field is a 400, not a store error.
                var preview = machine
                try MachineJSON.apply(write, to: &preview, creating: false)
                try checkProfile(preview.profile, inventory)
                let updated = try await storeCall {
                    try await inventory.update(mac: machine.mac, by: "api") { current in
                        try MachineJSON.apply(write, to: &current, creating: false)
                    }
                }
                guard let updated else { throw .notFound("machine \(machine.mac) was removed meanwhile") }
                return json(MachineJSON.resource(updated.machine))
            })
        router.delete(
            "\(prefix)/machines/:id",
            use: guarded(.write) { _, context throws(APIError) in
                let machine = try await find(context, inventory)
                guard try await storeCall({ try await inventory.delete(mac: machine.mac, by: "api") }) else {
                    throw .notFound("no machine \(machine.mac)")
                }
                return Response(status: .noContent)
            })
        router.get(
            "\(prefix)/machines/:id/timeline",
            use: guarded(.read) { request, context throws(APIError) in
                let machine = try await find(context, inventory)
                return try await timeline(request, mac: machine.mac, inventory)
            })
        router.get(
            "\(prefix)/timeline",
            use: guarded(.read) { request, _ throws(APIError) in
                try await timeline(request, mac: nil, inventory)
            })
        router.get(
            "\(prefix)/profiles",
            use: guarded(.read) { _, _ throws(APIError) in
                let (profiles, errors) = inventory.profiles.all()
                return json(
                    ProfileList(
                        profiles: profiles.map { profile in
                            ProfileResource(
                                name: profile.name, title: profile.title,
                                variables: profile.variables.map {
                                    .init(name: $0.name, defaultValue: $0.defaultValue, description: $0.description)
                                })
                        }, errors: errors))
            })
        router.get(
            "\(prefix)/leases",
            use: guarded(.read) { _, _ throws(APIError) in
                let now = WallClock.microsecondsNow()
                let leases = try await storeCall { try await inventory.store.leases() }
                return json(
                    LeaseList(
                        leases: leases.map { lease in
                            LeaseResource(
                                address: lease.address.description, mac: lease.mac?.description,
                                state: lease.state.rawValue, active: lease.isHeld(at: now),
                                expiresAt: Timestamp.iso8601(lease.expiresAt), hostname: lease.hostname,
                                server: lease.server)
                        }))
            })
        registerCallback(on: router, environment)
        router.get("\(prefix)/openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.on("\(prefix)/**", method: .get) { _, _ -> Response in
            failure(APIError.notFound("no such API path; see \(prefix)/openapi.json"))
        }
    }

    /// The installer's callback, on the API listeners and on the boot listener (installers on the
    /// LAN reach only that one): the install's own token in the URL, or the API token.
    static func registerCallback(on router: Router<VBootRequestContext>, _ environment: HTTPService.Environment) {
        let inventory = environment.inventory
        let live = inventory.live
        let counters = environment.counters
        for method in [HTTPRequest.Method.get, .post] {
            router.on("\(prefix)/machines/:id/done", method: method) { request, context -> Response in
                do {
                    return try await done(request, context, inventory, live.current.apiAccess, counters)
                } catch {
                    return failure(error)
                }
            }
        }
    }

    // MARK: Handlers

    /// Without the API token, every refusal is this one answer: an unknown machine, a wrong
    /// token and a machine with no install in flight look alike, so the callback cannot be used
    /// to learn which MACs are in the inventory.
    static let callbackRefused = APIError(status: 403, reason: "no install in flight matches this machine and token")

    static func done(
        _ request: Request, _ context: VBootRequestContext, _ inventory: Inventory, _ access: APIAccess,
        _ counters: ServerCounters
    ) async throws(APIError) -> Response {
        let token = request.uri.queryParameters["token"].map(String.init)
        let authorised = access.hasToken(request.headers[.authorization])
        // A MAC (what `done_url` names) goes straight to the one transaction, found or not;
        // other selectors are for admins and need a lookup first.
        let mac: HardwareAddress
        do throws(APIError) {
            if let given = HardwareAddress(context.parameters.get("id") ?? "") {
                mac = given
            } else {
                mac = try await find(context, inventory).mac
            }
        } catch let error where !authorised && (error.status == 400 || error.status == 404) {
            counters.increment(.apiCallbacksRefused)
            throw callbackRefused
        }
        let outcome = try await storeCall {
            try await inventory.store.update(mac: mac) {
                current -> (Machine?, Result<OneShot.Completion, OneShot.CompletionRefusal>) in
                let result = OneShot.complete(
                    current, token: token, authorised: authorised, now: WallClock.microsecondsNow())
                if case .success(.completed(let updated)) = result { return (updated, result) }
                return (nil, result)
            }
        }
        let address = context.remoteIPv4
        switch outcome {
        case .none:
            guard authorised else {
                counters.increment(.apiCallbacksRefused)
                throw callbackRefused
            }
            throw .notFound("no machine \(mac)")
        case .success(.completed(let updated)):
            inventory.directory.update(updated)
            inventory.recorder.record(
                .callback, .ok, mac: mac, address: address, summary: "install done; next boot local",
                details: ["by": authorised ? "api token" : "install token"])
            inventory.logger.info(
                "api: \(mac) install done (callback from \(address?.description ?? "?")); next boot local")
            return json(CallbackResult(mac: mac.description, nextBoot: updated.nextBoot.rawValue, changed: true))
        case .success(.alreadyDone):
            inventory.recorder.record(
                .callback, .ok, mac: mac, address: address, summary: "repeated callback; already local")
            return json(CallbackResult(mac: mac.description, nextBoot: NextBoot.local.rawValue, changed: false))
        case .failure(let refusal):
            // The machine's own timeline says why; the caller learns it only with the API token.
            inventory.recorder.record(.callback, .refused, mac: mac, address: address, summary: refusal.description)
            guard authorised else {
                counters.increment(.apiCallbacksRefused)
                throw callbackRefused
            }
            throw APIError(status: 409, reason: refusal.description)
        }
    }

    static func timeline(
        _ request: Request, mac: HardwareAddress?, _ inventory: Inventory
    ) async throws(APIError)
        -> Response
    {
        let query = request.uri.queryParameters
        let limit = query["limit"].flatMap { Int($0) } ?? 100
        guard (1...10_000).contains(limit) else { throw .badRequest("limit: 1 to 10000") }
        var before: Int64?
        if let text = query["before"] {
            guard let value = Int64(text) else { throw .badRequest("before: an event id") }
            before = value
        }
        // Events still in the recorder's buffer belong in the answer.
        await inventory.recorder.flush()
        let events = try await storeCall { try await inventory.store.timeline(mac: mac, limit: limit, before: before) }
        return json(TimelinePage(events: events.map(event)))
    }

    static func event(_ event: BootEvent) -> TimelineEvent {
        TimelineEvent(
            id: event.id, mac: event.mac?.description, address: event.address, at: Timestamp.iso8601(event.at),
            kind: event.kind.rawValue, outcome: event.outcome.rawValue, summary: event.summary, details: event.details,
            server: event.server)
    }

    // MARK: Plumbing

    /// `:id` is a MAC, or `uuid:…`, `serial:…`, `hostname:…`; anything else is taken as a host name.
    static func find(_ context: VBootRequestContext, _ inventory: Inventory) async throws(APIError) -> Machine {
        let id = context.parameters.get("id") ?? ""
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
