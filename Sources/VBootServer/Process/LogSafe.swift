import Logging

/// Text from the LAN (TFTP file names, query values, HTTP paths, DHCP strings) is made safe for
/// one log line or timeline field: control characters become visible escapes, so a client
/// cannot forge log lines ("\n") or drive the admin's terminal (ESC), and long text is cut.
enum LogSafe {
    /// Enough for any real file name or identifier; a TFTP request can carry ~500 bytes.
    static let fieldLimit = 256
    /// A whole log line; vboot's own lines are far shorter.
    static let lineLimit = 4096

    static func text(_ text: String, limit: Int = fieldLimit) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else { return out + "…[cut]" }
            count += 1
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            // C0, DEL, C1 (CSI 0x9B), and the Unicode line and paragraph separators.
            case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Every line the server logs passes through `LogSafe`, whichever call site built it: the one
/// place that cannot miss a client string.
struct LogSafeHandler: LogHandler {
    var wrapped: any LogHandler

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(LogSafe.text(event.message.description, limit: LogSafe.lineLimit))"
        event.metadata = event.metadata?.mapValues { .string(LogSafe.text($0.description)) }
        wrapped.log(event: event)
    }
}

extension Logger {
    /// This logger with every message escaped (idempotent).
    var logSafe: Logger {
        guard !(handler is LogSafeHandler) else { return self }
        var safe = self
        safe.handler = LogSafeHandler(wrapped: handler)
        return safe
    }
}
