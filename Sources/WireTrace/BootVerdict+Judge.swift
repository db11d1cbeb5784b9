extension BootVerdict {
    /// File names firmware and iPXE load as programs (not scripts, kernels or images).
    static let loaderSuffixes = [".efi", ".kpxe", ".kkpxe", ".kkkpxe", ".pxe", ".0", ".lkrn"]

    /// Judges one story, stage by stage in boot order: the first stage that failed is the cause.
    /// Pure: the same story and context give the same verdict.
    public static func judge(_ story: BootStory, context: VerdictContext) -> BootVerdict {
        let warnings = competitionWarnings(story, context: context)
        let recent = context.end - story.lastSeen < context.quiet
        let fetched = !story.transfers.isEmpty || !story.requests.isEmpty
        if !fetched, let verdict = dhcpOnly(story, context: context, recent: recent, competing: warnings) {
            return verdict
        }
        if let wrong = followedAnotherServer(story, context: context), !warnings.isEmpty {
            return BootVerdict(
                outcome: .stopped, cause: .competingBootServers,
                summary: "it followed \(wrong)'s boot offer instead of vboot's (\(warnings.joined(separator: "; ")))",
                advice: competitionAdvice)
        }
        var verdict =
            tftpFailure(story, context: context) ?? ipxeLoop(story) ?? httpFailure(story, context: context)
            ?? loaderSilent(story, context: context) ?? reached(story, recent: recent)
        verdict.warnings = warnings
        guard verdict.outcome == .stopped, !warnings.isEmpty else { return verdict }
        // It failed at another server that offered something to boot: that offer is the cause
        // (iPXE, for one, takes the address server's boot file over a proxy's script).
        if let server = verdict.server, !context.vboot.isEmpty, !context.vboot.contains(server) {
            verdict.summary = "it followed \(server)'s boot offer instead of vboot's, and then: \(verdict.summary)"
            verdict.cause = .competingBootServers
            verdict.advice = competitionAdvice
        } else if verdict.cause == .unexplained {
            // iPXE asks the first proxyDHCP that answered for its options on port 4011.
            let asked = story.dhcp.bootServersAsked.filter { !context.vboot.contains($0) }
            if !context.vboot.isEmpty, let other = asked.first {
                verdict.summary =
                    "it asked \(other) (another proxyDHCP) on port \(BootTrace.bootServerPort) for its boot file instead of vboot, and got nothing it could boot"
            }
            verdict.cause = .competingBootServers
            verdict.advice = competitionAdvice
        }
        return verdict
    }

    // MARK: DHCP

    /// A client that never fetched anything: the reason is in its DHCP conversation.
    static func dhcpOnly(
        _ story: BootStory, context: VerdictContext, recent: Bool, competing warnings: [String]
    ) -> BootVerdict? {
        let dhcp = story.dhcp
        let asked = dhcp.discovers + dhcp.requests
        guard asked > 0 else { return nil }
        let arch = story.architecture.map { " (\($0))" } ?? ""
        // Still asking when the capture ended: in progress only if it has not been asking for long
        // (firmware that got no boot offer goes on asking, and tries its HTTP boot entry too).
        if recent, story.lastSeen - story.firstSeen < context.quiet {
            return BootVerdict(
                outcome: .inProgress, cause: .inProgress, summary: "still in DHCP when the capture ended",
                warnings: warnings)
        }
        if dhcp.offers.isEmpty && dhcp.acks.isEmpty {
            return BootVerdict(
                outcome: .stopped, cause: .noDHCPAnswer,
                summary: "\(dhcp.discovers) DISCOVER(s) and \(dhcp.requests) REQUEST(s)\(arch), no server answered",
                advice:
                    "no DHCP server answered on this segment: start the site's DHCP server (vboot's proxyDHCP gives no addresses) or run vboot with --dhcp full; if vboot should have answered, see `vboot machines timeline \(story.mac)` and vboot's log"
            )
        }
        let bootOffers = (dhcp.offers + dhcp.acks).filter(\.offersBoot)
        if bootOffers.isEmpty {
            let servers = Set((dhcp.offers + dhcp.acks).map(\.server)).sorted().joined(separator: ", ")
            let vbootSilent =
                context.vboot.isEmpty ? "" : "; vboot (\(context.vboot.sorted().joined(separator: ", "))) sent no offer"
            return BootVerdict(
                outcome: .stopped, cause: .noBootOffer,
                summary: "got answers from \(servers) but no server offered a boot file\(arch)\(vbootSilent)",
                advice:
                    "vboot stays silent for a machine on hold, an architecture it has no binary for and a client that is not a network-boot client: see `vboot machines timeline \(story.mac)` and vboot's log (its startup lines list the binaries it found)"
            )
        }
        if !warnings.isEmpty {
            return BootVerdict(
                outcome: .stopped, cause: .competingBootServers,
                summary:
                    "boot offers from several servers (\(warnings.joined(separator: "; "))) and it fetched nothing",
                advice: competitionAdvice, warnings: warnings)
        }
        let offered = bootOffers.map { describe($0) }.joined(separator: "; ")
        if dhcp.requests == 0 {
            return BootVerdict(
                outcome: .stopped, cause: .offersIgnored,
                summary: "got offers (\(offered)) and never sent a REQUEST",
                advice:
                    "some UEFI firmware (reported for HP and Dell models) ignores a proxyDHCP offer that comes apart from the address offer: have the site's DHCP server name vboot (next-server and boot file) for these machines, or run vboot with --dhcp full"
            )
        }
        return BootVerdict(
            outcome: .stopped, cause: .noBootFileRequest,
            summary: "got its address and a boot offer (\(offered)) but never asked for the boot file",
            advice:
                "the firmware took the address and did not use the boot offer: check that the offer reached it (a proxyDHCP behind a relay needs the relay to forward to vboot too), or have the site's DHCP server name vboot as next-server"
        )
    }

    static let competitionAdvice =
        "one server per segment should offer a boot file: remove the boot file and next-server from the other server's configuration for these machines (dnsmasq: dhcp-boot and pxe-service; ISC dhcpd: filename and next-server), or stop the second proxyDHCP"

    /// One line per server that offered something to boot, or answered as a proxyDHCP (iPXE takes
    /// the first proxy answer, boot file or not), when there is more than one.
    static func competitionWarnings(_ story: BootStory, context: VerdictContext) -> [String] {
        let offers = (story.dhcp.offers + story.dhcp.acks).filter { $0.offersBoot || $0.kind == "proxy" }
        var byServer: [String: OfferSeen] = [:]
        for offer in offers where byServer[offer.server] == nil { byServer[offer.server] = offer }
        guard byServer.count > 1 else { return [] }
        return byServer.keys.sorted().map { server in
            let who = context.vboot.contains(server) ? "vboot \(server)" : server
            return "\(who) offered \(describe(byServer[server]!))"
        }
    }

    static func describe(_ offer: OfferSeen) -> String {
        var parts = [offer.kind == "proxy" ? "proxy" : "with an address"]
        if let file = offer.bootFile { parts.append("boot \(file)") }
        if let menu = offer.menu { parts.append("PXE menu " + menu.map { "\"\($0)\"" }.joined(separator: ", ")) }
        if !offer.offersBoot { parts.append("no boot file") }
        if let next = offer.nextServer { parts.append("next-server \(next)") }
        return parts.joined(separator: ", ")
    }

    /// With vboot's addresses known: the first server the client fetched from, if not vboot.
    static func followedAnotherServer(_ story: BootStory, context: VerdictContext) -> String? {
        guard !context.vboot.isEmpty else { return nil }
        let first = [
            story.transfers.first.map { ($0.started, $0.server) },
            story.requests.first.map { ($0.started, String($0.server.prefix { $0 != ":" })) },
        ].compactMap { $0 }.min { $0.0 < $1.0 }
        guard let server = first?.1, !context.vboot.contains(server) else { return nil }
        return server
    }

    static func isLoader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return loaderSuffixes.contains { lower.hasSuffix($0) } && !lower.hasSuffix(".cfg")
    }
}
