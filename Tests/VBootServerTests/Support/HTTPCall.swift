import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One real HTTP request to a test server.
struct HTTPCall {
    var status: Int
    var body: Data
    var headers: [AnyHashable: Any] = [:]
    var text: String { String(decoding: body, as: UTF8.self) }

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var error: String { json["error"] as? String ?? "" }

    static func run(
        _ method: String, _ path: String, port: Int, token: String? = nil, body: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> HTTPCall {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return HTTPCall(status: http.statusCode, body: data, headers: http.allHeaderFields)
    }
}
