import BootPolicy
import DHCPv4
import HTTPTypes
import Hummingbird
import VBootAPI
import VBootStore

/// `/api/v1/machines/{id}/done`, the installer's callback, on the API listeners and on the boot
/// listener (installers on the LAN reach only that one): the install's own token in the URL, or
/// the API token.
enum CallbackRoute {
    static func collection(_ environment: HTTPService.Environment) -> RouteCollection<VBootRequestContext> {
        let routes = RouteCollection(context: VBootRequestContext.self)
        let inventory = environment.inventory
        let counters = environment.counters
        for method in [HTTPRequest.Method.get, .post] {
            routes.on("machines/:id/done", method: method) { request, context -> Response in
                do {
                    return try await done(request, context, inventory, inventory.live.current.apiAccess, counters)
                } catch {
                    return APIRoutes.failure(error)
                }
            }
        }
        return routes
    }

    /// Without the API token, every refusal is this one answer: an unknown machine, a wrong
    /// token and a machine with no install in flight look alike, so the callback cannot be used
    /// to learn which MACs are in the inventory.
    static let refused = APIError(status: 403, reason: "no install in flight matches this machine and token")

    static func done(
        _ request: Request, _ context: VBootRequestContext, _ inventory: Inventory, _ access: APIAccess,
        _ counters: ServerCounters
    ) async throws(APIError) -> Response {
        let token = request.uri.queryParameters["token"].map(String.init)
        let authorised = access.hasToken(request.headers[.authorization])
        func refuse() -> APIError {
            counters.increment(.apiCallbacksRefused)
            return refused
        }
        // A MAC (what `done_url` names) goes straight to the one transaction, found or not;
        // other selectors are for admins and need a lookup first.
        let mac: HardwareAddress
        do throws(APIError) {
            if let given = HardwareAddress(APIRoutes.identifier(context)) {
                mac = given
            } else {
                mac = try await APIRoutes.find(context, inventory).mac
            }
        } catch let error where !authorised && (error.status == 400 || error.status == 404) {
            throw refuse()
        }
        let outcome = try await APIRoutes.storeCall {
            try await inventory.store.update(mac: mac) {
                current -> (Machine?, Result<OneShot.Completion, OneShot.CompletionRefusal>) in
                let result = OneShot.complete(
                    current, token: token, authorised: authorised, now: WallClock.microsecondsNow())
                if case .success(.completed(let updated)) = result { return (updated, result) }
                return (nil, result)
            }
        }
        guard let outcome else {
            guard authorised else { throw refuse() }
            throw .notFound("no machine \(mac)")
        }
        switch outcome {
        case .success(let completion):
            return answer(completion, mac: mac, from: context.remoteIPv4, authorised: authorised, inventory)
        case .failure(let refusal):
            // The machine's own timeline says why; the caller learns it only with the API token.
            inventory.recorder.record(
                .callback, .refused, mac: mac, address: context.remoteIPv4, summary: refusal.description)
            guard authorised else { throw refuse() }
            throw APIError(status: 409, reason: refusal.description)
        }
    }

    /// The timeline entry, the log line and the answer for a completed (or repeated) callback.
    static func answer(
        _ completion: OneShot.Completion, mac: HardwareAddress, from address: IPv4Address?, authorised: Bool,
        _ inventory: Inventory
    ) -> Response {
        switch completion {
        case .completed(let updated):
            inventory.directory.update(updated)
            inventory.recorder.record(
                .callback, .ok, mac: mac, address: address, summary: "install done; next boot local",
                details: ["by": authorised ? "api token" : "install token"])
            inventory.logger.info(
                "api: \(mac) install done (callback from \(address?.description ?? "?")); next boot local")
            return APIRoutes.json(
                CallbackResult(mac: mac.description, nextBoot: updated.nextBoot.rawValue, changed: true))
        case .alreadyDone:
            inventory.recorder.record(
                .callback, .ok, mac: mac, address: address, summary: "repeated callback; already local")
            return APIRoutes.json(
                CallbackResult(mac: mac.description, nextBoot: NextBoot.local.rawValue, changed: false))
        }
    }
}
