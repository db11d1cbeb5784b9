import BootPolicy
import DHCPv4
import Hummingbird
import VBootAPI
import VBootStore

/// `/api/v1/machines`: list, add, show, change, remove, and a machine's timeline.
enum MachineRoutes {
    static func collection(_ inventory: Inventory) -> RouteCollection<VBootRequestContext> {
        let routes = RouteCollection(context: VBootRequestContext.self)
        let live = inventory.live
        routes.get(
            "machines", use: APIRoutes.guarded(live, .read) { _, _ throws(APIError) in try await list(inventory) })
        routes.post(
            "machines",
            use: APIRoutes.guarded(live, .write) { request, _ throws(APIError) in try await add(request, inventory) })
        routes.get(
            "machines/:id",
            use: APIRoutes.guarded(live, .read) { _, context throws(APIError) in
                APIRoutes.json(MachineJSON.resource(try await APIRoutes.find(context, inventory)))
            })
        routes.patch(
            "machines/:id",
            use: APIRoutes.guarded(live, .write) { request, context throws(APIError) in
                try await change(request, context, inventory)
            })
        routes.delete(
            "machines/:id",
            use: APIRoutes.guarded(live, .write) { _, context throws(APIError) in try await remove(context, inventory) }
        )
        routes.get(
            "machines/:id/timeline",
            use: APIRoutes.guarded(live, .read) { request, context throws(APIError) in
                // A MAC need not be in the inventory to have a timeline: unknown machines boot
                // too, and what vboot refused them (and what --capture saw) is the first thing
                // `vboot trace` sends an admin to look at.
                if let mac = HardwareAddress(APIRoutes.identifier(context)) {
                    return try await InventoryReadRoutes.timeline(request, mac: mac, inventory)
                }
                let machine = try await APIRoutes.find(context, inventory)
                return try await InventoryReadRoutes.timeline(request, mac: machine.mac, inventory)
            })
        return routes
    }

    static func list(_ inventory: Inventory) async throws(APIError) -> Response {
        let machines = try await APIRoutes.storeCall { try await inventory.store.machines() }
        return APIRoutes.json(MachineList(machines: machines.map(MachineJSON.resource)))
    }

    static func add(_ request: Request, _ inventory: Inventory) async throws(APIError) -> Response {
        let machine = try MachineJSON.create(from: try await APIRoutes.body(request))
        try APIRoutes.checkProfile(machine.profile, inventory)
        try await APIRoutes.storeCall { try await inventory.insert(machine, by: "api") }
        let stored = try await APIRoutes.storeCall {
            try await inventory.store.machine(MachineSelector(mac: machine.mac))
        }
        return APIRoutes.json(status: .created, MachineJSON.resource(stored ?? machine))
    }

    static func change(
        _ request: Request, _ context: VBootRequestContext, _ inventory: Inventory
    ) async throws(APIError) -> Response {
        let machine = try await APIRoutes.find(context, inventory)
        let write = try await APIRoutes.body(request)
        // Validate against the current record first so a bad field is a 400, not a store error.
        var preview = machine
        try MachineJSON.apply(write, to: &preview, creating: false)
        try APIRoutes.checkProfile(preview.profile, inventory)
        let updated = try await APIRoutes.storeCall {
            try await inventory.update(mac: machine.mac, by: "api") { current in
                try MachineJSON.apply(write, to: &current, creating: false)
            }
        }
        guard let updated else { throw .notFound("machine \(machine.mac) was removed meanwhile") }
        return APIRoutes.json(MachineJSON.resource(updated.machine))
    }

    static func remove(_ context: VBootRequestContext, _ inventory: Inventory) async throws(APIError) -> Response {
        let machine = try await APIRoutes.find(context, inventory)
        guard try await APIRoutes.storeCall({ try await inventory.delete(mac: machine.mac, by: "api") }) else {
            throw .notFound("no machine \(machine.mac)")
        }
        return Response(status: .noContent)
    }
}
