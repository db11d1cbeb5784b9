import NIOCore

/// Cuts the transmission phase's stream into requests: each header, and for WRITE the data
/// that follows it (no other command carries any).
public enum NBDRequestFraming {
    public enum Next: Hashable, Sendable {
        /// A whole request, taken from the buffer, WRITE's data with it (else empty).
        case request(NBDRequest, data: ByteBuffer)
        /// Not all here yet; `partial` when some of it is.
        case needMore(partial: Bool)
        /// The stream cannot be read on (the reason, for the log).
        case close(String)
    }

    /// The next request in `buffer`, which keeps what follows it (or all of it, unless whole).
    public static func next(_ buffer: inout ByteBuffer, export: NBDNegotiation.Export) -> Next {
        guard var header = buffer.getSlice(at: buffer.readerIndex, length: NBDRequest.size) else {
            return .needMore(partial: buffer.readableBytes > 0)
        }
        let request: NBDRequest
        do {
            guard let parsed = try NBDRequest.parse(&header) else { return .needMore(partial: true) }
            request = parsed
        } catch {
            return .close("\(error)")
        }
        if let reason = unreadable(request, export: export) { return .close(reason) }
        let data = request.command == .write ? Int(request.length) : 0
        guard buffer.readableBytes >= NBDRequest.size + data else { return .needMore(partial: true) }
        buffer.moveReaderIndex(forwardBy: NBDRequest.size)
        return .request(request, data: buffer.readSlice(length: data)!)
    }

    /// Why the stream cannot go on after this header (nil: it can): a command whose data cannot
    /// be told apart from the next header, or data the server will not hold.
    static func unreadable(_ request: NBDRequest, export: NBDNegotiation.Export) -> String? {
        guard request.command.isKnown else {
            return "command \(request.command.rawValue), which the protocol does not define"
        }
        guard request.command == .write else { return nil }
        // The client was told the export is read-only: its data is not taken in to be refused.
        if export.flags.contains(.readOnly) { return "a write to the read-only export \(export.name)" }
        if request.length > NBDRequestCheck.maxLength {
            return "a write of \(request.length) bytes, more than \(NBDRequestCheck.maxLength)"
        }
        return nil
    }
}
