import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET`/`HEAD /assets/UPSTREAM/PATH` that is not in the assets directory: from the cache when
/// published (the sendfile path, as a local asset), else from the file as it arrives upstream,
/// to however many clients ask at once (Range inside what has arrived is answered at once,
/// beyond it as the bytes come). An upstream that fails is a 502 with the reason (404 stays 404).
enum CachedAssetRoute {
    /// What one read of a growing file sends at most.
    static let chunkSize = 256 * 1024

    static func serve(
        _ fill: CacheFill, _ path: String, request: Request, context: VBootRequestContext,
        environment: HTTPService.Environment
    ) async throws -> Response {
        let started = await fill.wait { $0.started }
        let what = "\(request.method) /assets/\(path)"
        if case .failed(let reason, let status) = started.outcome {
            environment.counters.increment(.cacheUpstreamFailures)
            // Not for a 4xx: the upstream answered, and the file is gone or forbidden there. Not
            // for a refused new file either, unless the copy itself passed the checks now in force.
            if fill.hasCopy, status.map({ $0 >= 500 }) ?? true, !started.refused || fill.copyVouchedFor,
                let size = fileSize(fill.finalPath)
            {
                // The upstream could not say whether the copy is current, or sent a file that was
                // refused: better the copy than no boot.
                environment.counters.increment(.cacheStaleServed)
                environment.logger.warning(
                    started.refused
                        ? "http: \(what): serving the cached copy; the upstream's new file was refused: \(reason)"
                        : "http: \(what): serving the cached copy; the upstream could not be asked: \(reason)")
                let file = BootFileStore.File(path: fill.finalPath, size: size, area: .assets)
                return try await FileRoute.serve(
                    file, what: what, path, request: request, context: context, environment: environment)
            }
            environment.logger.warning("http: \(what): \(reason)")
            let code: HTTPResponse.Status = status == 404 ? .notFound : .badGateway
            return Response(
                status: code, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "vboot cache: \(reason)\n")))
        }
        if started.outcome == .published {
            guard let size = fileSize(fill.finalPath) else {
                // Removed in between (vboot assets prune or verify, by hand): asked again, it is fetched.
                environment.logger.warning("http: \(what): the cached copy was removed while it was checked; 503")
                return Response(
                    status: .serviceUnavailable, headers: [.retryAfter: "1"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "vboot cache: removed meanwhile; try again\n")))
            }
            let file = BootFileStore.File(path: fill.finalPath, size: size, area: .assets)
            return try await FileRoute.serve(
                file, what: what, path, request: request, context: context,
                environment: environment)
        }
        var headers: HTTPFields = [.contentType: FileRoute.contentType(of: path)]
        guard let total = started.total else {
            // No length from the upstream: the whole body, as it comes, without Range.
            environment.logger.info("http: \(what): streaming from the upstream (length unknown)")
            guard request.method != .head else { return Response(status: .ok, headers: headers) }
            return Response(status: .ok, headers: headers, body: growingBody(fill, 0...(Int.max - 1), environment))
        }
        headers[.acceptRanges] = "bytes"
        let range: ClosedRange<Int>?
        switch ByteRange.parse(request.headers[.range], size: total) {
        case .whole: range = nil
        case .partial(let r): range = r
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(total)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        let length = range?.count ?? total
        headers[.contentLength] = String(length)
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(total)" }
        environment.logger.info("http: \(what): \(length) bytes as they arrive from the upstream")
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard request.method != .head, length > 0 else { return Response(status: status, headers: headers) }
        return Response(
            status: status, headers: headers, body: growingBody(fill, range ?? 0...(total - 1), environment))
    }

    /// Reads the fill's file from `range.lowerBound` as far as it has arrived, then waits for more.
    /// A fill that fails closes the connection short of its length (the client sees it cut).
    static func growingBody(
        _ fill: CacheFill, _ range: ClosedRange<Int>, _ environment: HTTPService.Environment
    ) -> ResponseBody {
        ResponseBody { writer in
            // Before the rename it is the partial file; after, the published one (same inode).
            var descriptor = open(fill.partialPath, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 { descriptor = open(fill.finalPath, O_RDONLY | O_CLOEXEC) }
            guard descriptor >= 0 else { throw CacheReadError("\(fill.key): gone before it could be read") }
            defer { close(descriptor) }
            var offset = range.lowerBound
            while offset <= range.upperBound {
                let snapshot = await fill.wait(beyond: offset)
                if case .failed(let reason, _) = snapshot.outcome { throw CacheReadError(reason) }
                let end = min(snapshot.readable, range.upperBound + 1)
                if end <= offset {
                    // Published and shorter than asked (a length-less body has ended).
                    if snapshot.outcome == .published { break }
                    continue
                }
                var buffer = ByteBuffer()
                let count = min(end - offset, chunkSize)
                let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                    max(0, pread(descriptor, space.baseAddress, count, off_t(offset)))
                }
                guard read > 0 else { throw CacheReadError("\(fill.key): read at \(offset) failed") }
                try await writer.write(buffer)
                offset += read
            }
            try await writer.finish(nil)
        }
    }

    static func fileSize(_ path: String) -> Int? {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_size) : nil
    }
}

struct CacheReadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
