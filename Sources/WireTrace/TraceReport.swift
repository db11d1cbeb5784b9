/// The end of a trace: every client's story with its verdict, the DHCP servers on the segment,
/// and what was not decoded. `vboot trace --json` prints this.
public struct TraceReport: Codable, Hashable, Sendable {
    public var stories: [BootStory]
    public var servers: [ServerSeen]
    public var frames: Int
    public var decoded: Int
    public var skipped: [String: Int]
    /// libpcap's counters for a live capture: received, dropped by the kernel, dropped by the interface.
    public var capture: CaptureCounters?

    public struct CaptureCounters: Codable, Hashable, Sendable {
        public var received: UInt32
        public var dropped: UInt32
        public var interfaceDropped: UInt32
        public init(received: UInt32, dropped: UInt32, interfaceDropped: UInt32) {
            self.received = received
            self.dropped = dropped
            self.interfaceDropped = interfaceDropped
        }
    }

    /// Judges every story of `trace` (or only `mac`'s) at `end`.
    public init(_ trace: BootTrace, context: VerdictContext, mac: LinkAddress? = nil) {
        var stories = trace.orderedStories
        if let mac { stories = stories.filter { $0.mac == mac.description } }
        for index in stories.indices {
            stories[index].verdict = BootVerdict.judge(stories[index], context: context)
        }
        self.stories = stories
        self.servers = trace.servers.values.sorted { $0.address < $1.address }
        self.frames = trace.frames
        self.decoded = trace.decoded
        self.skipped = trace.skipped
    }

    /// What a person reads: each story's steps with relative times, then its verdict.
    public var text: String {
        var lines: [String] = []
        for story in stories {
            var head = story.mac
            if let address = story.address { head += "  \(address)" }
            if let architecture = story.architecture { head += "  \(architecture)" }
            lines.append(head)
            for step in story.steps { lines.append("  " + Self.line(step)) }
            if story.stepsDropped > 0 { lines.append("  … \(story.stepsDropped) more steps not kept") }
            if let verdict = story.verdict {
                lines.append("  => \(verdict.outcome.rawValue): \(verdict.summary) [\(verdict.cause.rawValue)]")
                for warning in verdict.warnings { lines.append("     warning: \(warning)") }
                if let advice = verdict.advice { lines.append("     what to do: \(advice)") }
            }
            lines.append("")
        }
        if !servers.isEmpty {
            lines.append("DHCP servers seen:")
            for server in servers {
                var what: [String] = []
                if server.addressOffers > 0 { what.append("\(server.addressOffers) address offer(s)") }
                if server.proxyOffers > 0 { what.append("\(server.proxyOffers) proxy offer(s)") }
                if server.acks > 0 { what.append("\(server.acks) ACK(s)") }
                if !server.bootFiles.isEmpty {
                    // vboot's script URLs differ per machine: a few tell what the server hands out.
                    let shown = server.bootFiles.prefix(3).joined(separator: ", ")
                    let more = server.bootFiles.count > 3 ? " and \(server.bootFiles.count - 3) more" : ""
                    what.append("boot files \(shown)\(more)")
                }
                lines.append("  \(server.address): \(what.joined(separator: ", "))")
            }
        }
        var totals = "\(frames) frames, \(decoded) in boot conversations, \(stories.count) client(s)"
        if let capture {
            totals += "; capture: \(capture.received) received, \(capture.dropped) dropped by the kernel"
        }
        lines.append(totals)
        for (reason, count) in skipped.sorted(by: { $0.key < $1.key }) {
            lines.append("  not decoded: \(count) \(reason)")
        }
        return lines.joined(separator: "\n")
    }

    /// `+  1.234  DHCP OFFER …` (with `×N` for a step repeated in a row).
    public static func line(_ step: BootStep) -> String {
        let time = BootTrace.seconds(step.at)
        let pad = String(repeating: " ", count: max(0, 8 - time.count))
        return "+\(pad)\(time)  \(step.text)" + (step.count > 1 ? "  ×\(step.count)" : "")
    }
}
