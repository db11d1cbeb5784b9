import DHCPv4
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import VBootAPI

/// `GET /api/v1/events`: the timeline as Server-Sent Events, every machine's or one's
/// (`?mac=`), from after `Last-Event-ID` (or `?after=`) or from now; an id above the newest
/// stored gets `event: reset` first. Read access, like `GET /timeline`; a browser sends the
/// token as a header through `fetch`, never in the URL.
enum EventStreamRoute {
    /// How long a browser waits before reconnecting after the stream ends.
    static let retryMilliseconds = 2000

    static func register(on routes: RouteCollection<VBootRequestContext>, _ inventory: Inventory) {
        routes.get(
            "events",
            use: APIRoutes.guarded(inventory.live, .read) { request, context throws(APIError) in
                try await stream(request, context, inventory)
            })
    }

    static func stream(
        _ request: Request, _ context: VBootRequestContext, _ inventory: Inventory
    ) async throws(APIError) -> Response {
        let feed = inventory.feed
        let query = request.uri.queryParameters
        var mac: HardwareAddress?
        if let text = query["mac"] {
            guard let parsed = HardwareAddress(String(text)) else { throw .badRequest("mac: \"\(text)\" is not a MAC") }
            mac = parsed
        }
        var after: Int64?
        if let text = request.headers[.lastEventID] ?? query["after"].map(String.init) {
            guard let value = Int64(text), value >= 0 else {
                throw .badRequest("Last-Event-ID / after: an event id (a whole number), not \"\(text)\"")
            }
            after = value
        }
        // The stream starts at what is stored now, so whatever is stored after the request
        // arrived is sent. An id above the newest stored (a database replaced since) would wait
        // for ever: such a stream starts from the newest and is told to read everything again.
        // (A replaced database that has grown past the old id cannot be told apart.)
        let newest = try await APIRoutes.storeCall { try await feed.newestID() }
        var reset = false
        if let given = after, given > newest {
            reset = true
            after = newest
        }
        after = after ?? newest
        let channel = context.channel
        let withToken = inventory.live.current.apiAccess.hasToken(request.headers[.authorization])
        let subscriber: FeedSubscriber
        do {
            subscriber = try feed.subscribe(
                mac: mac, client: context.remoteAddress?.ipAddress ?? "?", after: after, withToken: withToken,
                first: reset ? ServerSentEvent.frame(event: "reset", id: nil, data: "{}") : nil,
                onStall: { channel.close(promise: nil) })
        } catch {
            throw APIError(status: 503, reason: error.reason)
        }
        let headers: HTTPFields = [
            .contentType: ServerSentEvent.contentType, .cacheControl: "no-store",
            // A reverse proxy in front of the API must pass each event on as it comes.
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { feed.unsubscribe(subscriber) }
                // A stream never ends by itself: a server that stops ends it, or the stop would
                // wait for every open browser.
                try await withGracefulShutdownHandler {
                    try await writer.write(ServerSentEvent.retry(milliseconds: retryMilliseconds))
                    while let frame = await subscriber.next() { try await writer.write(frame) }
                } onGracefulShutdown: {
                    subscriber.finish()
                }
                try await writer.finish(nil)
            })
    }
}

extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
