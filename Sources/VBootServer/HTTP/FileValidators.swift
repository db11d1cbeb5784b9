import Foundation
import Glibc
import HTTPTypes

/// `ETag` and `Last-Modified` of a file served, and the conditional request that makes the answer
/// a 304 (RFC 9110 §13.1): what lets another cache (a second vboot with this one as `--upstream`)
/// ask whether its copy is current without fetching it again.
struct FileValidators: Equatable {
    /// Strong: the same inode, size and modification time to the nanosecond (not the change
    /// time: the cache's LRU touch sets the access time, which changes it).
    var etag: String
    var lastModified: String
    var modified: time_t

    init(_ file: FileIdentity) {
        let (seconds, nanoseconds) = file.modified.quotientAndRemainder(dividingBy: 1_000_000_000)
        modified = time_t(seconds)
        etag =
            "\"" + String(file.inode, radix: 16) + "-" + String(file.size, radix: 16) + "-"
            + String(seconds, radix: 16) + String(format: "%08x", Int(nanoseconds)) + "\""
        lastModified = Self.httpDate(modified)
    }

    init?(path: String) {
        guard let file = FileIdentity(path: path) else { return nil }
        self.init(file)
    }

    /// If-None-Match wins over If-Modified-Since when both are sent (§13.2.2).
    func notModified(ifNoneMatch: String?, ifModifiedSince: String?) -> Bool {
        if let ifNoneMatch {
            return ifNoneMatch.split(separator: ",").contains { tag in
                let tag = tag.trimmingCharacters(in: .whitespaces)
                return tag == "*" || tag == etag || tag == "W/" + etag
            }
        }
        guard let ifModifiedSince, let since = Self.parseHTTPDate(ifModifiedSince) else { return false }
        return modified <= since
    }

    static func httpDate(_ time: time_t) -> String {
        var seconds = time
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The IMF-fixdate form only (`Sun, 06 Nov 1994 08:49:37 GMT`, what every current client
    /// sends); anything else is ignored, as §13.1.3 allows.
    static func parseHTTPDate(_ text: String) -> time_t? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT",
            let day = Int32(fields[1]), let month = months.firstIndex(of: String(fields[2])),
            let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3, (1...31).contains(day), (0...23).contains(clock[0]), (0...59).contains(clock[1]),
            (0...60).contains(clock[2]), year >= 1970
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = clock[0]
        parts.tm_min = clock[1]
        parts.tm_sec = clock[2]
        return timegm(&parts)
    }
}
