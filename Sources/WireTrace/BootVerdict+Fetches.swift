extension BootVerdict {
    // MARK: TFTP

    /// The last transfer that did not end well, unless something fetched later did: EDK2 ends its
    /// `tsize` probe with an ERROR before the real read, and shim's `revocations_*.efi` and GRUB's
    /// `*.lst` are optional, asked for and refused on every boot that works.
    static func tftpFailure(_ story: BootStory, context: VerdictContext) -> BootVerdict? {
        guard let (transfer, verdict) = failedTransfer(story, context: context) else { return nil }
        var judged = verdict
        judged.server = transfer.server
        return judged
    }

    private static func failedTransfer(
        _ story: BootStory, context: VerdictContext
    ) -> (TransferSeen, BootVerdict)? {
        let transfers = story.transfers
        let lastSuccess = allFetches(story).last(where: \.complete)?.at ?? -.infinity
        for transfer in transfers.reversed() where transfer.state != "complete" {
            if transfer.lastPacket < lastSuccess { continue }
            let at = "+\(BootTrace.seconds(transfer.lastPacket - story.firstSeen)) s"
            switch (transfer.state, transfer.errorFrom) {
            case ("error", "server"):
                return (
                    transfer,
                    BootVerdict(
                        outcome: .stopped, cause: .tftpError,
                        summary: "TFTP \(transfer.file) from \(transfer.server): \(transfer.error ?? "error") at \(at)",
                        advice: transfer.error?.hasPrefix("error 1 ") == true
                            ? "\(transfer.server) has no \(transfer.file): put it where that server serves from (vboot: --ipxe-dir or the boot-file directories), or correct the boot file name it offers"
                            : "see \(transfer.server)'s log for why it refused")
                )
            case ("error", _) where transfer.bytes == 0 && transfer.acknowledged != nil:
                let agreed = (transfer.acknowledged ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                return (
                    transfer,
                    BootVerdict(
                        outcome: .stopped, cause: .tftpOptionsRefused,
                        summary:
                            "the client ended the transfer of \(transfer.file) right after \(transfer.server)'s option acknowledgement (\(agreed.joined(separator: ", "))): \(transfer.error ?? "")",
                        advice:
                            "the client refused what the server agreed to: a server should agree only to a block size that fits the path's MTU and to options the client asked for; check the server's TFTP options and any firewall between them"
                    )
                )
            case ("error", _):
                return (
                    transfer,
                    BootVerdict(
                        outcome: .stopped, cause: .tftpError,
                        summary:
                            "the client ended the transfer of \(transfer.file) after \(transfer.bytes) bytes: \(transfer.error ?? "error") at \(at)",
                        advice: "the client gave up on the transfer: look for loss between it and \(transfer.server)")
                )
            default:
                let lastSent = transfer.lastFromServer ?? transfer.lastPacket
                // Unanswered: a client asks three or four times before it gives up on a server.
                let waiting = transfer.lastFromServer == nil && transfer.requests >= Self.unansweredRequests
                if context.end - lastSent < context.quiet, !waiting {
                    return (
                        transfer,
                        BootVerdict(
                            outcome: .inProgress, cause: .inProgress,
                            summary: "receiving \(transfer.file) over TFTP (\(transfer.bytes) bytes so far)")
                    )
                }
                if transfer.lastFromServer == nil {
                    return (
                        transfer,
                        BootVerdict(
                            outcome: .stopped, cause: .tftpNoAnswer,
                            summary:
                                "\(transfer.server) never answered the TFTP read request for \(transfer.file) (\(transfer.requests) sent)",
                            advice:
                                "no TFTP server answers at \(transfer.server): the offer that named it (next-server, or the address server's own address) is wrong, or its TFTP service is down"
                        )
                    )
                }
                let of = transfer.expectedSize.map { " of \($0)" } ?? ""
                return (
                    transfer,
                    BootVerdict(
                        outcome: .stopped, cause: .tftpStalled,
                        summary:
                            "the TFTP transfer of \(transfer.file) from \(transfer.server) stopped at block \(transfer.lastBlock) (\(transfer.bytes)\(of) bytes), \(transfer.retransmissions) block(s) sent again, nothing from the server after +\(BootTrace.seconds(lastSent - story.firstSeen)) s",
                        advice: transfer.retransmissions > 0
                            ? "the server kept resending and the client stopped acknowledging: look for loss or a client that hung"
                            : "the server stopped sending (stopped or restarted mid-transfer?): see \(transfer.server)'s log"
                    )
                )
            }
        }
        return nil
    }

    /// Read requests without an answer after which nobody is going to answer.
    static let unansweredRequests = 3

    // MARK: iPXE

    /// iPXE running (its DHCP seen) and a loader fetched three times or more.
    static func ipxeLoop(_ story: BootStory) -> BootVerdict? {
        guard story.dhcp.fromIPXE >= 2 else { return nil }
        // Only since its last script: a machine that boots three times in one trace is no loop.
        let fetches = allFetches(story)
        let since = fetches.last { $0.complete && isScript($0.name) }?.at ?? -.infinity
        var counts: [String: Int] = [:]
        for fetch in fetches where fetch.complete && fetch.at > since && isLoader(fetch.name) {
            counts[fetch.name, default: 0] += 1
        }
        guard let (file, count) = counts.max(by: { $0.value < $1.value }), count >= 3 else { return nil }
        let servers = Set(story.dhcp.offers.filter { $0.toIPXE && $0.bootFile != nil }.map(\.server)).sorted()
        return BootVerdict(
            outcome: .stopped, cause: .ipxeLoop,
            summary:
                "iPXE loaded \(file) \(count) times: each time it was offered an iPXE binary again instead of a script (offered by \(servers.joined(separator: ", ")))",
            advice:
                "the server answering iPXE's own DHCP must offer the script URL when the request carries user class iPXE or option 175 (vboot does): another server answering iPXE, or a site DHCP rule without that condition, makes this loop"
        )
    }

    // MARK: HTTP

    static func httpFailure(_ story: BootStory, context: VerdictContext) -> BootVerdict? {
        guard var verdict = failedRequest(story, context: context) else { return nil }
        verdict.verdict.server = String(verdict.request.server.prefix { $0 != ":" })
        return verdict.verdict
    }

    private static func failedRequest(
        _ story: BootStory, context: VerdictContext
    ) -> (request: HTTPSeen, verdict: BootVerdict)? {
        let requests = story.requests
        let lastSuccess = allFetches(story).last(where: \.complete)?.at ?? -.infinity
        for (index, request) in requests.enumerated().reversed() {
            // A script may probe for optional files; what failed before a later success did not stop it.
            if request.lastPacket < lastSuccess, request.state != "receiving", request.state != "waiting" { continue }
            let later = requests[(index + 1)...]
            if later.contains(where: { $0.path == request.path && $0.state == "complete" && ($0.status ?? 0) < 400 }) {
                continue
            }
            if let status = request.status, status >= 400 {
                let advice: String
                switch status {
                case 404:
                    advice =
                        "the script names a file the server does not have: put it under vboot's --assets (or fix the URL in the profile)"
                case 401, 403:
                    advice = "the server refused the request: see its log for the reason"
                default:
                    advice = "the server failed the request: see \(request.server)'s log"
                }
                return (
                    request,
                    BootVerdict(
                        outcome: .stopped, cause: .httpError,
                        summary:
                            "HTTP \(request.method) \(request.path) from \(request.server): \(status) \(request.reason ?? "")",
                        advice: advice)
                )
            }
            let stale = context.end - request.lastPacket >= context.quiet
            switch request.state {
            case let state where state == "reset" || state == "receiving" && stale:
                let of = request.contentLength.map { " of \($0)" } ?? ""
                return (
                    request,
                    BootVerdict(
                        outcome: .stopped, cause: .httpStalled,
                        summary:
                            "the download of \(request.path) from \(request.server) stopped after \(request.bytes)\(of) bytes",
                        advice: "the server or the connection went away mid-download: see \(request.server)'s log")
                )
            case "waiting" where stale:
                return (
                    request,
                    BootVerdict(
                        outcome: .stopped, cause: .httpStalled,
                        summary: "\(request.server) never answered \(request.method) \(request.path)",
                        advice: "the server accepted the connection and did not answer: see its log")
                )
            case "receiving", "waiting":
                return (
                    request,
                    BootVerdict(
                        outcome: .inProgress, cause: .inProgress,
                        summary: "fetching \(request.path) (\(request.bytes) bytes so far)")
                )
            default:
                continue
            }
        }
        return nil
    }

    // MARK: After the last fetch

    /// The last thing the client did was finish downloading a loader, a while ago.
    static func loaderSilent(_ story: BootStory, context: VerdictContext) -> BootVerdict? {
        let fetches = allFetches(story)
        // A loader a script chained to (memtest's .efi) is where the script sent it: not silence.
        guard let last = fetches.last, last.complete, isLoader(last.name),
            !fetches.dropLast().contains(where: { $0.complete && isScript($0.name) }),
            context.end - last.at >= context.quiet, story.dhcp.lastIPXEAsk.map({ $0 < last.at }) ?? true
        else { return nil }
        return BootVerdict(
            outcome: .stopped, cause: .loaderSilent,
            summary:
                "it downloaded \(last.name) in full and then went silent for \(BootTrace.seconds(context.end - last.at)) s",
            advice:
                "the firmware did not start it or it failed at once: Secure Boot refuses an unsigned loader (OVMF prints \"Access Denied\"; give the machine loader grub), or the binary is for another architecture"
        )
    }

    /// Where it got to when nothing failed: its script, and what it fetched after.
    static func reached(_ story: BootStory, recent: Bool) -> BootVerdict {
        let fetches = allFetches(story)
        // The last script: iPXE chains from a menu to the machine's own, GRUB from its prefix's to vboot's.
        if let script = fetches.lastIndex(where: { $0.complete && isScript($0.name) }) {
            let after = fetches[(script + 1)...].filter(\.complete)
            var summary = "fetched its script \(fetches[script].name)"
            if let last = after.last {
                summary += ", then \(after.count) file(s), the last \(last.name) (\(last.bytes) bytes)"
            }
            return BootVerdict(outcome: .booted, cause: .booted, summary: summary)
        }
        if recent {
            return BootVerdict(
                outcome: .inProgress, cause: .inProgress, summary: "still booting when the capture ended")
        }
        let last = fetches.last.map { "; the last thing it fetched: \($0.name)" } ?? ""
        return BootVerdict(
            outcome: .stopped, cause: .unexplained,
            summary: "it stopped before fetching a boot script\(last)",
            advice: "nothing on the wire says why: look at the machine's screen or serial console")
    }

    struct Fetch {
        var name: String
        var at: Double
        var complete: Bool
        var bytes: Int
    }

    static func allFetches(_ story: BootStory) -> [Fetch] {
        let tftp = story.transfers.map {
            Fetch(name: $0.file, at: $0.lastPacket, complete: $0.state == "complete", bytes: $0.bytes)
        }
        let http = story.requests.map {
            Fetch(
                name: $0.path, at: $0.lastPacket, complete: $0.state == "complete" && ($0.status ?? 0) < 400,
                bytes: $0.bytes)
        }
        return (tftp + http).sorted { $0.at < $1.at }
    }

    /// Boot scripts and loader configurations: iPXE scripts, vboot's GRUB configurations.
    static func isScript(_ name: String) -> Bool {
        let path = name.split(separator: "?", maxSplits: 1).first.map(String.init) ?? name
        return path.hasSuffix(".ipxe") || path.hasSuffix(".cfg") || path.hasSuffix("/boot.ipxe")
    }
}
