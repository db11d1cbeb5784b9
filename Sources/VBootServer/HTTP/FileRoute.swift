import BootPolicy
import DHCPv4
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `GET`/`HEAD /ipxe/<file>` and `/assets/<path>`: files with Range, small ones from memory,
/// the rest with sendfile (FileRegionSender).
enum FileRoute {
    static func serve(
        _ area: BootFileStore.Area, _ path: String, request: Request, context: VBootRequestContext,
        environment: HTTPService.Environment
    ) async throws -> Response {
        var file: BootFileStore.File
        switch environment.store.resolve(area, path) {
        case .success(let found): file = found
        case .failure(.checking(let found)):
            // The first request for a newly published image file: it waits for the one hash.
            switch await environment.store.images?.wait(for: found.path) {
            case .refused(let why)?: return unverified(why, request, path, environment)
            default: file = found
            }
        case .failure(.unverified(let why)):
            return unverified(why, request, path, environment)
        case .failure(.notFound):
            // Not in the assets directory: an upstream's, when the path starts with its name.
            if area == .assets, let cache = environment.cache {
                switch cache.lookup(path, client: context.remoteAddress?.ipAddress) {
                case .cached(let cached, let size):
                    let file = BootFileStore.File(path: cached, size: size, area: .assets)
                    return try await serve(
                        file, what: "\(request.method) /assets/\(path)", path, request: request, context: context,
                        environment: environment)
                case .filling(let fill):
                    return try await CachedAssetRoute.serve(
                        fill, path, request: request, context: context, environment: environment)
                case .busy:
                    environment.logger.warning(
                        "http: \(request.method) /assets/\(path): \(cache.fillLimit) upstream fetches in progress, or \(cache.fillsPerClient) started by this client; 503"
                    )
                    return Response(
                        status: .serviceUnavailable, headers: [.retryAfter: "5"],
                        body: ResponseBody(
                            byteBuffer: ByteBuffer(string: "vboot cache: too many upstream fetches at once\n")))
                case .unavailable(let reason):
                    environment.counters.increment(.cacheUpstreamFailures)
                    environment.logger.warning("http: \(request.method) /assets/\(path): \(reason)")
                    return Response(
                        status: .badGateway, headers: [.contentType: "text/plain; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: "vboot cache: \(reason)\n")))
                case .badPath:
                    environment.logger.warning("http: \(request.method) /assets/\(path): not a path vboot fetches")
                    throw HTTPError(.forbidden)
                case .notAnUpstream: break
                }
            }
            environment.logger.info("http: \(request.method) /\(area.rawValue)/\(path): not found")
            throw HTTPError(.notFound)
        case .failure(.refused(let why)):
            environment.logger.warning("http: \(request.method) /\(area.rawValue)/\(path): \(why)")
            throw HTTPError(.forbidden)
        }
        return try await serve(
            file, what: "\(request.method) /\(area.rawValue)/\(path)", path, request: request, context: context,
            environment: environment)
    }

    /// A diskless image's file that does not match its manifest: 503 with the reason, never the bytes.
    static func unverified(
        _ why: String, _ request: Request, _ path: String, _ environment: HTTPService.Environment
    ) -> Response {
        environment.logger.warning("http: \(request.method) /assets/\(path): \(why)")
        // 503 without Retry-After (RFC 9110 §15.6.4): the file is there but not served until
        // an admin publishes the image again, after no delay vboot could name.
        return Response(
            status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "vboot: \(why)\n")))
    }

    /// A file found (in the assets or iPXE directories, or the cache), with Range.
    static func serve(
        _ file: BootFileStore.File, what: String, _ path: String, request: Request, context: VBootRequestContext,
        environment: HTTPService.Environment
    ) async throws -> Response {
        var headers: HTTPFields = [.contentType: contentType(of: path), .acceptRanges: "bytes"]
        if let validators = FileValidators(path: file.path) {
            headers[.eTag] = validators.etag
            headers[.lastModified] = validators.lastModified
            if validators.notModified(
                ifNoneMatch: request.headers[.ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince])
            {
                environment.logger.info("http: \(what): not modified (304)")
                return Response(status: .notModified, headers: headers.filter { $0.name != .contentType })
            }
        }
        let range: ClosedRange<Int>?
        switch ByteRange.parse(request.headers[.range], size: file.size) {
        case .whole: range = nil
        case .partial(let r): range = r
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(file.size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        noteServed(what, path, size: file.size, range, context, environment)
        let length = range?.count ?? file.size
        headers[.contentLength] = String(length)
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)" }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard request.method != .head, length > 0 else { return Response(status: status, headers: headers) }
        return Response(
            status: status, headers: headers,
            body: try fileBody(file, range ?? 0...(file.size - 1), context: context, environment: environment))
    }

    /// The counter, the timeline entry and the log line of a file served.
    private static func noteServed(
        _ what: String, _ path: String, size: Int, _ range: ClosedRange<Int>?, _ context: VBootRequestContext,
        _ environment: HTTPService.Environment
    ) {
        environment.counters.increment(.httpFilesServed)
        var details = ["file": path, "bytes": String(range?.count ?? size)]
        if let range { details["range"] = "\(range.lowerBound)-\(range.upperBound)" }
        environment.inventory.recorder.record(.asset, .ok, address: context.remoteIPv4, summary: what, details: details)
        environment.logger.info(
            "http: \(what) \(range.map { "bytes \($0.lowerBound)-\($0.upperBound)/\(size)" } ?? "\(size) bytes")")
    }

    /// Files up to this size are answered from memory as one buffer (head and body in one write);
    /// bigger ones go out with sendfile.
    static let smallFileLimit = 256 * 1024

    static func fileBody(
        _ file: BootFileStore.File, _ range: ClosedRange<Int>, context: VBootRequestContext,
        environment: HTTPService.Environment
    ) throws -> ResponseBody {
        if file.size <= smallFileLimit, let data = environment.smallFiles.contents(of: file.path),
            data.readableBytes == file.size, let slice = data.getSlice(at: range.lowerBound, length: range.count)
        {
            return ResponseBody(byteBuffer: slice)
        }
        let channel = context.channel
        return ResponseBody(contentLength: range.count) { writer in
            let sender = try await channel.pipeline.handler(type: FileRegionSender.self).get()
            let (handle, descriptor) = try FileReader.openForSending(file.path)
            // Closed only once the kernel has sent the region or the send failed.
            defer { try? handle.close() }
            let region = FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound + 1)
            let sent = channel.eventLoop.makePromise(of: Void.self)
            guard let (token, part) = sender.enqueue(region, promise: sent) else {
                sent.fail(FileRegionSender.Closed())
                throw FileRegionSender.Closed()
            }
            // A file truncated in place under the download (`cp new old`) makes sendfile return 0
            // for ever, and NIO retries as fast as the socket is writable: once a second, a
            // download still running checks the size and closes the connection if it shrank.
            let watchdog = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) {
                task in
                guard let size = FileReader.currentSize(of: descriptor), size <= range.upperBound else { return }
                task.cancel()
                environment.logger.warning("http: \(file.path) shrank to \(size) bytes during a download; closing it")
                channel.close(promise: nil)
            }
            defer { watchdog.cancel() }
            do {
                try await writer.write(part)
            } catch {
                if sender.withdraw(token) { sent.fail(error) }
            }
            try await sent.futureResult.get()
            try await writer.finish(nil)
        }
    }

    static func contentType(of path: String) -> String {
        if path.hasSuffix(".efi") { return "application/efi" }
        if path.hasSuffix(".ipxe") || path.hasSuffix(".cfg") || path.hasSuffix(".txt") {
            return "text/plain; charset=utf-8"
        }
        return "application/octet-stream"
    }
}
