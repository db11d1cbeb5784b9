import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/ui/`: the web console's static files (`ui/` beside the boot scripts, or
/// `/usr/share/vboot/ui`), on the API listener so its pages and the API they call share one
/// origin and one `Host` check. The pages hold no data: everything they show comes from
/// `/api/v1` with the token the person typed, sent as a header (so no other site's page can
/// make a browser change anything: there is no cookie to ride on).
enum ConsoleRoute {
    static let prefix = "/ui"
    /// The console's files are a few kilobytes each; anything bigger is not one of them.
    static let maximumFileSize = 1 << 20

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml", "png": "image/png",
        "json": "application/json", "txt": "text/plain; charset=utf-8", "ico": "image/x-icon",
    ]

    /// Only this origin's scripts, styles and API; no inline script, no framing.
    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-cache",
    ]

    static func register(on router: Router<VBootRequestContext>, directory: String) {
        router.get("/") { _, _ in redirect() }
        // The router does not tell `/ui` from `/ui/`; the page's relative links need the slash.
        router.get(RouterPath(prefix)) { request, _ in
            request.uri.path.hasSuffix("/") ? file("index.html", directory) : redirect()
        }
        router.get("\(prefix)/**") { _, context in
            file(context.parameters.getCatchAll().joined(separator: "/"), directory)
        }
    }

    static func redirect() -> Response {
        Response(status: .seeOther, headers: [.location: "\(prefix)/"])
    }

    /// `path` under `directory`: plain names only (letters, digits, `-`, `_`, `.`, no leading dot),
    /// so nothing outside it or hidden in it is ever read.
    static func file(_ path: String, _ directory: String) -> Response {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy(isPlainName),
            let suffix = parts.last?.split(separator: ".").last.map(String.init), parts.last!.contains("."),
            let type = contentTypes[suffix]
        else { return notFound(path) }
        let full = directory + "/" + parts.joined(separator: "/")
        guard let size = (try? FileManager.default.attributesOfItem(atPath: full))?[.size] as? Int,
            size <= maximumFileSize, let data = FileManager.default.contents(atPath: full)
        else { return notFound(path) }
        var headers = securityHeaders
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func isPlainName(_ name: Substring) -> Bool {
        guard let first = name.first, first != "." else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    static func notFound(_ path: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(
            status: .notFound, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "no such file\n")))
    }
}
