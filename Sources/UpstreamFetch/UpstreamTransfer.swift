import CCurl
import Glibc

/// libcurl behind one type: one HTTP(S) GET from an upstream mirror, run to its end on the
/// calling thread (TLS, HTTP/2, proxies, redirects, resume by Range, conditional requests).
/// The handle lives for one `run`; nothing else imports CCurl.
public enum UpstreamTransfer {
    public struct Request: Sendable {
        public var url: String
        /// PEM file of the CAs to trust instead of the system's (a site's own mirror).
        public var caBundle: String?
        /// `http://proxy:3128`; nil: none (libcurl's `*_proxy` environment variables are not read).
        public var proxy: String?
        /// Bytes already held: only the rest is asked for (Range), to resume a cut download.
        public var resumeFrom: Int64 = 0
        /// Revalidation: a 304 means the cached copy is current.
        public var ifNoneMatch: String?
        public var ifModifiedSince: String?
        public var connectTimeoutSeconds = 10
        /// Under `stallBytesPerSecond` for this long, the transfer is abandoned.
        public var stallSeconds = 30
        public var stallBytesPerSecond = 1_024
        /// The whole transfer ends after this long (small files only: a large one at any sane
        /// speed is bounded by the stall rule alone); nil: no bound.
        public var timeoutSeconds: Int?
        public var userAgent = "vboot"

        public init(url: String) { self.url = url }
    }

    /// The final response (after redirects), as its headers said.
    public struct Response: Sendable, Equatable {
        public var status: Int
        /// This response's body length, when the server said.
        public var contentLength: Int64?
        public var etag: String?
        public var lastModified: String?
        public var effectiveURL: String?
    }

    /// libcurl is initialised once per process (its global state is not thread-safe to set up).
    private static let initialised: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Runs the transfer. `onResponse` comes once, before the first body byte (or at the end of a
    /// body-less answer), and returns false to stop; `onData` gets each piece of the body and
    /// returns false to stop; `shouldStop` is asked about once a second while it waits. A stop
    /// throws `UpstreamError.stopped`.
    public static func run(
        _ request: Request, onResponse: (Response) -> Bool, onData: (UnsafeRawBufferPointer) -> Bool,
        shouldStop: () -> Bool = { false }
    ) throws(UpstreamError) -> Response {
        guard initialised, let handle = curl_easy_init() else {
            throw UpstreamError("libcurl could not be initialised")
        }
        defer { curl_easy_cleanup(handle) }
        return try withoutActuallyEscaping(onResponse) { onResponse throws(UpstreamError) in
            try withoutActuallyEscaping(onData) { onData throws(UpstreamError) in
                try withoutActuallyEscaping(shouldStop) { shouldStop throws(UpstreamError) in
                    let context = Context(
                        handle: handle, onResponse: onResponse, onData: onData, shouldStop: shouldStop)
                    return try context.perform(request)
                }
            }
        }
    }

    /// What the C callbacks reach through their `void *`.
    fileprivate final class Context {
        let handle: UnsafeMutableRawPointer
        let onResponse: (Response) -> Bool
        let onData: (UnsafeRawBufferPointer) -> Bool
        let shouldStop: () -> Bool
        var headers: [String: String] = [:]
        var response: Response?
        var stopped = false
        var errors = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        init(
            handle: UnsafeMutableRawPointer, onResponse: @escaping (Response) -> Bool,
            onData: @escaping (UnsafeRawBufferPointer) -> Bool, shouldStop: @escaping () -> Bool
        ) {
            self.handle = handle
            self.onResponse = onResponse
            self.onData = onData
            self.shouldStop = shouldStop
        }

        func perform(_ request: Request) throws(UpstreamError) -> Response {
            var list: UnsafeMutablePointer<curl_slist>?
            defer { curl_slist_free_all(list) }
            if let etag = request.ifNoneMatch { list = curl_slist_append(list, "If-None-Match: \(etag)") }
            if let date = request.ifModifiedSince { list = curl_slist_append(list, "If-Modified-Since: \(date)") }
            let me = Unmanaged.passUnretained(self).toOpaque()
            return try errors.withUnsafeMutableBufferPointer { errorBuffer throws(UpstreamError) in
                var code = CURLE_OK
                func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
                set(vboot_curl_set_string(handle, CURLOPT_URL, request.url))
                set(vboot_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
                // An HTTPS upstream is not followed down to plain HTTP.
                let redirects = request.url.hasPrefix("https://") ? "https" : "http,https"
                set(vboot_curl_set_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, redirects))
                set(vboot_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 1))
                set(vboot_curl_set_long(handle, CURLOPT_MAXREDIRS, 5))
                set(vboot_curl_set_long(handle, CURLOPT_NOSIGNAL, 1))
                set(vboot_curl_set_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
                set(vboot_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT, request.connectTimeoutSeconds))
                set(vboot_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, request.stallSeconds))
                set(vboot_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, request.stallBytesPerSecond))
                if let timeout = request.timeoutSeconds { set(vboot_curl_set_long(handle, CURLOPT_TIMEOUT, timeout)) }
                set(vboot_curl_set_string(handle, CURLOPT_USERAGENT, request.userAgent))
                // An empty proxy turns libcurl's own environment lookup off: only the config decides.
                set(vboot_curl_set_string(handle, CURLOPT_PROXY, request.proxy ?? ""))
                if let caBundle = request.caBundle { set(vboot_curl_set_string(handle, CURLOPT_CAINFO, caBundle)) }
                if request.resumeFrom > 0 {
                    set(vboot_curl_set_offset(handle, CURLOPT_RESUME_FROM_LARGE, curl_off_t(request.resumeFrom)))
                }
                if list != nil { set(vboot_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)) }
                set(vboot_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer.baseAddress))
                // The buffer is valid only inside this closure; the handle outlives it.
                defer { _ = vboot_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, nil) }
                set(vboot_curl_set_data_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback))
                set(vboot_curl_set_pointer(handle, CURLOPT_HEADERDATA, me))
                set(vboot_curl_set_data_callback(handle, CURLOPT_WRITEFUNCTION, writeCallback))
                set(vboot_curl_set_pointer(handle, CURLOPT_WRITEDATA, me))
                set(vboot_curl_set_progress_callback(handle, progressCallback))
                set(vboot_curl_set_pointer(handle, CURLOPT_XFERINFODATA, me))
                set(vboot_curl_set_long(handle, CURLOPT_NOPROGRESS, 0))
                guard code == CURLE_OK else {
                    throw UpstreamError("libcurl: \(String(cString: curl_easy_strerror(code)))")
                }
                let result = curl_easy_perform(handle)
                if stopped { throw UpstreamError.stopped }
                guard result == CURLE_OK else {
                    let detail = String(cString: errorBuffer.baseAddress!)
                    let reason = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
                    throw UpstreamError("\(request.url): \(reason)")
                }
                return try respond()
            }
        }

        /// The response as the headers of the last hop gave it; reported once.
        @discardableResult
        func respond() throws(UpstreamError) -> Response {
            if let response { return response }
            var status = 0
            vboot_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
            var length: curl_off_t = -1
            vboot_curl_get_offset(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
            var url: UnsafeMutablePointer<CChar>?
            vboot_curl_get_string(handle, CURLINFO_EFFECTIVE_URL, &url)
            let made = Response(
                status: status, contentLength: length >= 0 ? Int64(length) : nil, etag: headers["etag"],
                lastModified: headers["last-modified"], effectiveURL: url.map { String(cString: $0) })
            response = made
            if !onResponse(made) {
                stopped = true
                throw UpstreamError.stopped
            }
            return made
        }

        /// A header line; a status line starts a new hop's headers (redirects, 100 Continue).
        func header(_ line: UnsafeRawBufferPointer) {
            let text = String(decoding: line, as: UTF8.self).trimmingWhitespace()
            if text.hasPrefix("HTTP/") {
                headers = [:]
                return
            }
            guard let colon = text.firstIndex(of: ":"), headers.count < 64 else { return }
            let name = text[..<colon].lowercased()
            let value = String(text[text.index(after: colon)...]).trimmingWhitespace()
            guard value.utf8.count <= 512 else { return }
            headers[name] = value
        }

        /// Body bytes: false stops the transfer.
        func data(_ bytes: UnsafeRawBufferPointer) -> Bool {
            do { try respond() } catch { return false }
            guard onData(bytes) else {
                stopped = true
                return false
            }
            return true
        }

        func progress() -> Bool {
            if shouldStop() { stopped = true }
            return !stopped
        }
    }
}

private func context(_ pointer: UnsafeMutableRawPointer?) -> UpstreamTransfer.Context? {
    pointer.map { Unmanaged<UpstreamTransfer.Context>.fromOpaque($0).takeUnretainedValue() }
}

private let headerCallback: vboot_curl_data_callback = { data, size, count, pointer in
    let length = size * count
    context(pointer)?.header(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

private let writeCallback: vboot_curl_data_callback = { data, size, count, pointer in
    let length = size * count
    guard let context = context(pointer) else { return 0 }
    // Any other count than `length` makes libcurl stop with CURLE_WRITE_ERROR.
    return context.data(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

private let progressCallback: vboot_curl_progress_callback = { pointer, _, _, _, _ in
    context(pointer)?.progress() == false ? 1 : 0
}

/// Why an upstream transfer failed, for the operator and the client's 502.
public struct UpstreamError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
    /// The caller stopped it (`onResponse` or `onData` returned false, or `shouldStop`).
    public static let stopped = UpstreamError("stopped")
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
