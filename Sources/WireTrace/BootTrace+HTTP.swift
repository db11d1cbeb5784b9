import DHCPv4

extension BootTrace {
    /// Request lines longer than this are cut (a script URL is short; this bounds memory).
    static let requestLineLimit = 512
    /// A finished response body this large gets a step of its own (kernels, initrds, images).
    static let largeBody = 65_536

    mutating func httpFromClient(
        _ payload: UnsafeRawBufferPointer, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let connection = Connection(
            client: Endpoint(address: headers.source, port: headers.sourcePort),
            server: Endpoint(address: headers.destination, port: headers.destinationPort))
        guard case .tcp(_, _, _, let flags) = headers.transport else { return nil }
        if flags.contains(.rst) || flags.contains(.fin) { return connectionEnded(connection, at: time) }
        guard let (method, path) = Self.requestLine(payload) else { return nil }
        decoded += 1
        let key = storyKey(mac: headers.linkSource, address: headers.source)
        let request = HTTPSeen(
            method: method, path: path, server: "\(headers.destination):\(headers.destinationPort)", started: time,
            lastPacket: time)
        var index: Int?
        let step = record(key, at: time, kind: "http", "HTTP \(method) \(path) to \(request.server)") { story in
            story.address = headers.source.description
            guard story.requests.count < BootStory.requestLimit else { return }
            story.requests.append(request)
            index = story.requests.count - 1
        }
        if let index {
            if connections[connection] == nil, connections.count >= Self.connectionLimit {
                connections = connections.filter { time - $0.value.lastPacket < Self.idleLimit }
            }
            if connections[connection] == nil, connections.count >= Self.connectionLimit {
                skip("HTTP connections beyond \(Self.connectionLimit) at once")
            } else {
                connections[connection, default: ConnectionState(story: key, lastPacket: time)].pending.append(index)
                connections[connection]?.lastPacket = time
            }
        }
        return step
    }

    mutating func httpFromServer(
        _ payload: UnsafeRawBufferPointer, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let connection = Connection(
            client: Endpoint(address: headers.destination, port: headers.destinationPort),
            server: Endpoint(address: headers.source, port: headers.sourcePort))
        guard case .tcp(_, _, let sequence, let flags) = headers.transport, var state = connections[connection]
        else { return nil }
        decoded += 1
        state.lastPacket = time
        var step: (story: StoryKey, step: BootStep)?
        if let status = Self.statusLine(payload), !state.pending.isEmpty {
            // G: the response before it on this connection is over, whatever its length said
            // (no Content-Length, or segments the capture missed).
            if let previous = state.receiving, stories[state.story]?.requests[previous].state == "receiving" {
                stories[state.story]!.requests[previous].state = "complete"
            }
            let index = state.pending.removeFirst()
            let body = max(0, headers.wirePayloadLength - status.headerLength)
            state.receiving = index
            state.nextSequence = sequence &+ UInt32(truncatingIfNeeded: headers.wirePayloadLength)
            step = record(state.story, at: time, kind: "http", nil) { story in
                guard story.requests.indices.contains(index) else { return }
                story.requests[index].status = status.code
                story.requests[index].reason = status.reason
                story.requests[index].contentLength = status.contentLength
                story.requests[index].bytes = body
                story.requests[index].lastPacket = time
                let method = story.requests[index].method
                // No body follows a HEAD, a 1xx, 204 or 304 (RFC 9110 §6.4.1).
                let bodyless = method == "HEAD" || status.code == 204 || status.code == 304 || status.code < 200
                story.requests[index].state =
                    bodyless || status.contentLength.map({ body >= $0 }) == true ? "complete" : "receiving"
            }
            if let request = stories[state.story]?.requests[index] {
                var text = "HTTP \(status.code) \(status.reason) for \(request.path)"
                if let length = status.contentLength { text += " (\(length) bytes)" }
                step = record(state.story, at: time, kind: "http", text)
            }
        } else if let index = state.receiving, payload.count > 0 || headers.wirePayloadLength > 0 {
            // Count each byte once: a segment at or past the next expected sequence number is new;
            // one past it means the capture missed segments the client did get (they are counted).
            let expected = state.nextSequence ?? sequence
            let ahead = Int(Int32(bitPattern: sequence &- expected))
            if ahead >= 0 {
                state.nextSequence = sequence &+ UInt32(truncatingIfNeeded: headers.wirePayloadLength)
                step = body(ahead + headers.wirePayloadLength, story: state.story, index: index, at: time)
            }
        }
        connections[connection] = state
        if flags.contains(.rst) || flags.contains(.fin) { return connectionEnded(connection, at: time) ?? step }
        return step
    }

    private mutating func body(
        _ length: Int, story key: StoryKey, index: Int, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard let request = stories[key]?.requests[index], request.state == "receiving" else { return nil }
        stories[key]!.requests[index].bytes += length
        stories[key]!.requests[index].lastPacket = time
        stories[key]!.lastSeen = time
        guard let expected = request.contentLength, request.bytes + length >= expected else { return nil }
        stories[key]!.requests[index].state = "complete"
        guard expected >= Self.largeBody else { return nil }
        let took = Self.seconds(time - request.started)
        return record(key, at: time, kind: "http", "HTTP \(request.path): complete, \(expected) bytes in \(took) s")
    }

    /// A FIN or RST: a response still arriving stopped short (or, without a length, ended).
    private mutating func connectionEnded(
        _ connection: Connection, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        guard let state = connections.removeValue(forKey: connection) else { return nil }
        guard let index = state.receiving, let request = stories[state.story]?.requests[index],
            request.state == "receiving"
        else { return nil }
        if request.contentLength == nil {
            stories[state.story]!.requests[index].state = "complete"
            return nil
        }
        let of = request.contentLength.map { " of \($0)" } ?? ""
        return record(
            state.story, at: time, kind: "http",
            "HTTP \(request.path): connection closed after \(request.bytes)\(of) bytes"
        ) { story in
            story.requests[index].state = "reset"
        }
    }

    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]

    /// `METHOD SP target SP HTTP/1.x`, from the first bytes of a segment.
    static func requestLine(_ payload: UnsafeRawBufferPointer) -> (method: String, path: String)? {
        guard payload.count >= 14, let space = payload.prefix(8).firstIndex(of: 0x20) else { return nil }
        let method = String(decoding: payload[..<space], as: UTF8.self)
        guard methods.contains(method) else { return nil }
        let rest = payload[(space + 1)...].prefix(requestLineLimit)
        let end = rest.firstIndex(where: { $0 == 0x20 || $0 == 0x0D || $0 == 0x0A }) ?? rest.endIndex
        let path = String(decoding: rest[..<end].map { $0 < 0x21 || $0 > 0x7E ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
        return (method, path)
    }

    struct StatusLine {
        var code: Int
        var reason: String
        var contentLength: Int?
        /// Bytes up to and including the blank line; the whole segment when the headers go on.
        var headerLength: Int
    }

    /// `HTTP/1.x NNN reason`, its `Content-Length`, and where the body starts in this segment.
    static func statusLine(_ payload: UnsafeRawBufferPointer) -> StatusLine? {
        let prefix = Array("HTTP/1.".utf8)
        guard payload.count >= 12, payload.prefix(7).elementsEqual(prefix) else { return nil }
        let head = payload.prefix(4096)
        let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard let first = lines.first else { return nil }
        let words = first.split(separator: 0x20, maxSplits: 2)
        guard words.count >= 2, let code = Int(String(decoding: words[1], as: UTF8.self)), (100...999).contains(code)
        else { return nil }
        let reason = words.count > 2 ? clip(String(decoding: words[2].filter { $0 != 0x0D }, as: UTF8.self)) : ""
        var contentLength: Int?
        var headerLength = payload.count
        var offset = first.count + 1
        for line in lines.dropFirst() {
            offset += line.count + 1
            let text = String(decoding: line.filter { $0 != 0x0D }, as: UTF8.self)
            if text.isEmpty {
                headerLength = min(offset, payload.count)
                break
            }
            let parts = text.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                contentLength = Int(parts[1].trimmingPrefix(" "))
            }
        }
        return StatusLine(code: code, reason: reason, contentLength: contentLength, headerLength: headerLength)
    }
}
