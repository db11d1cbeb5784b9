import NIOCore

/// The `text/event-stream` wire format (WHATWG HTML, "Server-sent events"): fields as
/// `name: value` lines, a blank line ends an event, a line starting with `:` is a comment.
enum ServerSentEvent {
    static let contentType = "text/event-stream; charset=utf-8"

    /// One event. `data` may hold newlines: each line becomes its own `data:` field, which the
    /// browser joins back with newlines. `event` and `id` must not (they are vboot's own words).
    static func frame(event: String, id: Int64?, data: String) -> ByteBuffer {
        var text = "event: \(event)\n"
        if let id { text += "id: \(id)\n" }
        // CR, LF and CRLF all end a line for the browser (CRLF is one Character in Swift).
        for line in data.split(
            omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
        {
            text += "data: \(line)\n"
        }
        return ByteBuffer(string: text + "\n")
    }

    /// A comment: keeps proxies and the browser from timing the stream out, and finds a
    /// vanished browser (the write fails) when nothing else happens.
    static let keepalive = ByteBuffer(string: ": keepalive\n\n")

    /// How long the browser waits before it reconnects (it then sends `Last-Event-ID`).
    static func retry(milliseconds: Int) -> ByteBuffer { ByteBuffer(string: "retry: \(milliseconds)\n\n") }
}
