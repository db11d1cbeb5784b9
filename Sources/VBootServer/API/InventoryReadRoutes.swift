import BootPolicy
import DHCPv4
import Hummingbird
import VBootAPI
import VBootStore

/// `/api/v1` reads beside the machines: every machine's timeline, each one's newest boot event,
/// what the caller may do, the profiles, the leases.
enum InventoryReadRoutes {
    static func collection(_ inventory: Inventory) -> RouteCollection<VBootRequestContext> {
        let routes = RouteCollection(context: VBootRequestContext.self)
        let live = inventory.live
        routes.get(
            "timeline",
            use: APIRoutes.guarded(live, .read) { request, _ throws(APIError) in
                try await timeline(request, mac: nil, inventory)
            })
        routes.get(
            "timeline/latest",
            use: APIRoutes.guarded(live, .read) { _, _ throws(APIError) in
                await inventory.recorder.flush()
                let events = try await APIRoutes.storeCall { try await inventory.store.latestEvents() }
                return APIRoutes.json(TimelinePage(events: events.map(event)))
            })
        routes.get(
            "access",
            use: APIRoutes.guarded(live, .read) { request, _ throws(APIError) in
                APIRoutes.json(
                    AccessResource(write: live.current.apiAccess.hasToken(request.headers[.authorization])))
            })
        routes.get("profiles", use: APIRoutes.guarded(live, .read) { _, _ throws(APIError) in profiles(inventory) })
        routes.get(
            "leases", use: APIRoutes.guarded(live, .read) { _, _ throws(APIError) in try await leases(inventory) })
        return routes
    }

    /// One machine's events (`mac`), or every machine's; newest first, `limit` and `before` page.
    static func timeline(
        _ request: Request, mac: HardwareAddress?, _ inventory: Inventory
    ) async throws(APIError) -> Response {
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
        let events = try await APIRoutes.storeCall {
            try await inventory.store.timeline(mac: mac, limit: limit, before: before)
        }
        return APIRoutes.json(TimelinePage(events: events.map(event)))
    }

    static func event(_ event: BootEvent) -> TimelineEvent {
        TimelineEvent(
            id: event.id, mac: event.mac?.description, address: event.address, at: Timestamp.iso8601(event.at),
            kind: event.kind.rawValue, outcome: event.outcome.rawValue, summary: event.summary, details: event.details,
            server: event.server)
    }

    static func profiles(_ inventory: Inventory) -> Response {
        let (profiles, errors) = inventory.profiles.all()
        return APIRoutes.json(
            ProfileList(
                profiles: profiles.map { profile in
                    ProfileResource(
                        name: profile.name, title: profile.title,
                        variables: profile.variables.map {
                            .init(name: $0.name, defaultValue: $0.defaultValue, description: $0.description)
                        })
                }, errors: errors))
    }

    static func leases(_ inventory: Inventory) async throws(APIError) -> Response {
        let now = WallClock.microsecondsNow()
        let leases = try await APIRoutes.storeCall { try await inventory.store.leases() }
        return APIRoutes.json(
            LeaseList(
                leases: leases.map { lease in
                    LeaseResource(
                        address: lease.address.description, mac: lease.mac?.description, state: lease.state.rawValue,
                        active: lease.isHeld(at: now), expiresAt: Timestamp.iso8601(lease.expiresAt),
                        hostname: lease.hostname, server: lease.server)
                }))
    }
}
