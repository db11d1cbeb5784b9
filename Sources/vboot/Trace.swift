import ArgumentParser
import DHCPv4
import Foundation
import PacketCapture
import Synchronization
import WireTrace

/// Set by SIGINT/SIGTERM: a live trace stops reading and prints its verdicts.
private let stopRequested = Atomic<Bool>(false)

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow network boots on the wire (live or from a capture file) and say why a machine did not boot.",
        discussion: """
            Decodes DHCP (67, 68, 4011), TFTP (69 and the ports each transfer uses) and HTTP requests and \
            status lines, groups them per client MAC, and ends each story with a verdict: booted, in \
            progress, or stopped with the most likely cause and what to change. A live trace prints each \
            step as it happens and the verdicts when it ends (--duration, or Ctrl-C).
            """)

    @Option(name: .customLong("interface"), help: "Capture live on this interface (root or CAP_NET_RAW).")
    var interface: String?
    @Option(name: .customLong("read"), help: "Read a capture file (pcap or pcapng) instead.")
    var file: String?
    @Option(help: "Only this client's story (MAC).") var mac: String?
    @Option(help: "Also write the captured packets to this pcap file.") var write: String?
    @Option(help: "Stop a live capture after this many seconds.") var duration: Double?
    @Option(
        name: .customLong("http-port"), help: "TCP ports read as HTTP (repeatable; default 8080 and 80).")
    var httpPorts: [UInt16] = []
    @Option(
        name: .customLong("vboot"),
        help:
            "vboot's IPv4 address (repeatable): offers from elsewhere are another server's. Default for a live capture: the interface's addresses."
    )
    var vboot: [String] = []
    @Option(
        help:
            "Seconds of silence (before the end of the capture) after which a client counts as stopped, not in progress; 0 judges every boot as over (a file of boots that have ended)."
    )
    var quietAfter: Double = 10
    @Option(
        help:
            "Bytes kept of each packet on a live capture: every DHCP message and TFTP request and the headers of an HTTP response fit in the default; a smaller ring slot per packet is what keeps a boot storm from overflowing the kernel's buffer."
    )
    var snapLength: Int32 = 1600
    @Option(
        help:
            "The kernel's capture buffer for a live trace, MiB (libpcap's own default, 2, overflows in a storm of a few hundred machines)."
    )
    var bufferMib: Int32 = 32
    @Flag(help: "Print the stories and verdicts as JSON (live steps are not printed).") var json = false

    func validate() throws {
        guard (interface == nil) != (file == nil) else {
            throw ValidationError("give one of --interface IF (live) or --read FILE")
        }
        if let mac, HardwareAddress(mac) == nil { throw ValidationError("--mac \(mac): not a MAC address") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be above 0") }
        guard quietAfter >= 0 else { throw ValidationError("--quiet-after must be 0 or more") }
        guard (1...1024).contains(bufferMib) else { throw ValidationError("--buffer-mib must be from 1 to 1024") }
        guard (342...262_144).contains(snapLength) else {
            throw ValidationError("--snap-length must be from 342 (a minimal DHCP message with its headers) to 262144")
        }
        for address in vboot where IPv4Address(address) == nil {
            throw ValidationError("--vboot \(address): not an IPv4 address")
        }
    }

    func run() throws {
        let only = mac.flatMap(HardwareAddress.init).flatMap(LinkAddress.init)
        let ports = Set(httpPorts.isEmpty ? [8080, 80] : httpPorts)
        let capture: PacketCapture
        do {
            if let interface {
                capture = try PacketCapture.open(
                    interface: interface, filter: Self.filter(ports: ports, mac: only), snapLength: snapLength,
                    bufferBytes: bufferMib * 1_048_576)
            } else {
                capture = try PacketCapture.open(file: file!)
            }
            if let write { try capture.write(to: write) }
        } catch {
            throw ValidationError(error.description)
        }
        let linkType = LinkType(rawValue: capture.linkType)
        guard linkType.isSupported else {
            throw ValidationError(
                "\(interface ?? file!): \(linkType) captures are not supported (Ethernet, Linux cooked or raw IP)")
        }
        var servers = Set(vboot)
        if servers.isEmpty, let interface { servers = Set(PacketCapture.addresses(of: interface)) }

        var trace = BootTrace(httpPorts: ports)
        let live = interface != nil
        let deadline = duration.map { Date().addingTimeInterval($0) }
        if live {
            signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
            signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
            if !json {
                FileHandle.standardOutput.write(
                    Data(
                        "tracing on \(interface!) (\(PacketCapture.libraryVersion)); Ctrl-C ends it with the verdicts\n"
                            .utf8))
            }
        }
        // A capture that ends in the middle of a packet (tcpdump killed) still tells its stories.
        var endedEarly: String?
        reading: while !stopRequested.load(ordering: .relaxed) {
            if let deadline, Date() >= deadline { break }
            let read: PacketCapture.Read
            do {
                read = try capture.next { bytes, _, time in
                    guard let added = trace.ingest(bytes, linkType: linkType, at: time), live, !json else { return }
                    if let only, added.story != .mac(only) { return }
                    // Unbuffered: a live trace piped to a file or `tee` shows each step as it happens.
                    FileHandle.standardOutput.write(
                        Data("\(Self.clock(time))  \(added.story)  \(added.step.text)\n".utf8))
                }
            } catch {
                endedEarly = error.description
                break reading
            }
            switch read {
            case .packet, .timeout: continue
            case .end: break reading
            }
        }
        capture.flush()
        let end = live ? Date().timeIntervalSince1970 : (trace.lastFrame ?? 0)
        var report = TraceReport(trace, context: VerdictContext(vboot: servers, end: end, quiet: quietAfter), mac: only)
        if live, let counters = capture.statistics() {
            report.capture = .init(
                received: counters.received, dropped: counters.dropped, interfaceDropped: counters.interfaceDropped)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            if live { print("") }
            print(report.text)
        }
        if let endedEarly {
            FileHandle.standardError.write(Data("vboot trace: the capture ends early: \(endedEarly)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// What the kernel passes up: DHCP and TFTP (any UDP: transfer ports are ephemeral) and the
    /// HTTP ports; with --mac, that client's frames plus the DHCP answers broadcast to it.
    static func filter(ports: Set<UInt16>, mac: LinkAddress?) -> String {
        let http = ports.sorted().map { "tcp port \($0)" }.joined(separator: " or ")
        var filter = "ip and (udp or \(http))"
        if let mac { filter += " and (ether host \(mac) or udp port 67 or udp port 68 or udp port 4011)" }
        return filter
    }

    /// `HH:MM:SS.mmm` UTC.
    static func clock(_ time: Double) -> String {
        let milliseconds = Int((time * 1000).rounded()) % 86_400_000
        let parts = [milliseconds / 3_600_000, milliseconds / 60_000 % 60, milliseconds / 1000 % 60]
        let fraction = String(milliseconds % 1000)
        return parts.map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":") + "."
            + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
