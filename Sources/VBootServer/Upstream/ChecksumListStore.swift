import Foundation
import NIOConcurrencyHelpers
import UpstreamFetch

/// The checksum lists the upstreams name (`--cache-checksums`, a profile's `#: checksums`),
/// fetched when a file needs one and kept in memory. A list that vouches for a file is not
/// fetched again; one that does not name the file, or gives another digest, is fetched again
/// (at most every `refetchAfter`: the upstream may have moved to a new release since) before
/// the file is refused.
final class ChecksumListStore: Sendable {
    private let lists = NIOLockedValueBox<[String: (list: ChecksumList, fetched: ContinuousClock.Instant)]>([:])
    private let template: UpstreamTransfer.Request
    /// A list fetched this recently is not fetched again for a file it does not vouch for: a storm
    /// of corrupt downloads does not become a storm of list downloads.
    static let refetchAfter = Duration.seconds(10)
    static let limit = 64
    static let timeoutSeconds = 60

    /// `template`: proxy, CA bundle and user agent for the list's own transfer.
    init(template: UpstreamTransfer.Request) { self.template = template }

    /// Why a list does not vouch for a file.
    enum Problem: Sendable, Equatable {
        /// The list could not be fetched or read: nothing is known about the file.
        case unreadable(String)
        /// The list names another digest, or does not name the file.
        case refused(String)

        var reason: String {
            switch self {
            case .unreadable(let reason), .refused(let reason): reason
            }
        }
    }

    /// nil when the list at `listURL` gives `digest` for the file at `fileURL`; else why not.
    func problem(fileURL: String, digest: String, listURL: String) -> Problem? {
        var known = lists.withLockedValue { $0[listURL] }
        let vouches = known?.list.sha256(forFileAt: fileURL) == digest
        let fetchedLately = known.map { ContinuousClock.now - $0.fetched < Self.refetchAfter } ?? false
        if known == nil || (!vouches && !fetchedLately) {
            switch fetchAndKeep(listURL) {
            case .success(let list): known = (list, ContinuousClock.now)
            case .failure(let reason):
                return .unreadable(
                    "the checksum list \(listURL) cannot be read (\(reason.description)), so \(fileURL) cannot be checked"
                )
            }
        }
        guard let expected = known?.list.sha256(forFileAt: fileURL) else {
            return .refused("\(fileURL) is not named in the checksum list \(listURL); refused")
        }
        return expected == digest
            ? nil : .refused("\(fileURL): SHA-256 \(digest) is not \(expected) from \(listURL); refused")
    }

    /// nil when the list is at hand (fetched now if it was not): a fill asks before it downloads
    /// a file it could not check; else why it cannot be read.
    func unreadable(_ listURL: String) -> String? {
        if lists.withLockedValue({ $0[listURL] }) != nil { return nil }
        guard case .failure(let reason) = fetchAndKeep(listURL) else { return nil }
        return "the checksum list \(listURL) cannot be read (\(reason.description)), so nothing it lists can be checked"
    }

    private func fetchAndKeep(_ url: String) -> Result<ChecksumList, ChecksumList.ParseError> {
        let fetched = fetch(url)
        if case .success(let list) = fetched {
            lists.withLockedValue { lists in
                if lists.count >= Self.limit, lists[url] == nil { lists.removeAll() }
                lists[url] = (list, ContinuousClock.now)
            }
        }
        return fetched
    }

    private func fetch(_ url: String) -> Result<ChecksumList, ChecksumList.ParseError> {
        var request = template
        request.url = url
        // Clients wait for the file's last byte meanwhile: a mirror dribbling its list does not
        // hold them for the stall rule's half hour.
        request.timeoutSeconds = Self.timeoutSeconds
        var body: [UInt8] = []
        var status: Int?
        var tooLarge = false
        do {
            _ = try UpstreamTransfer.run(
                request,
                onResponse: { response in
                    status = response.status
                    return response.status == 200
                },
                onData: { bytes in
                    guard body.count + bytes.count <= ChecksumList.maxBytes else {
                        tooLarge = true
                        return false
                    }
                    body.append(contentsOf: bytes)
                    return true
                })
        } catch {
            if tooLarge { return .failure(.init(description: "larger than \(ChecksumList.maxBytes) bytes")) }
            if let status, status != 200 { return .failure(.init(description: "the upstream answered \(status)")) }
            return .failure(.init(description: "\(error)"))
        }
        guard status == 200 else {
            return .failure(.init(description: "the upstream answered \(status.map(String.init) ?? "nothing")"))
        }
        do {
            return .success(try ChecksumList(parsing: String(decoding: body, as: UTF8.self), listURL: url))
        } catch {
            return .failure(error)
        }
    }
}
