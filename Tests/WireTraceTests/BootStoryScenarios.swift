import DHCPv4
import TFTP
import WireTrace

/// A segment with a site DHCP server (10.0.0.1), vboot (10.0.0.2) and one PXE client, and the
/// pieces of a boot conversation between them, fed to a `BootTrace` frame by frame.
struct Segment {
    static let client = "52:54:00:00:00:01"
    static let clientIP = "10.0.0.50"
    static let site = "02:00:00:00:00:01"
    static let siteIP = "10.0.0.1"
    static let vboot = "02:00:00:00:00:02"
    static let vbootIP = "10.0.0.2"
    static let other = "02:00:00:00:00:03"
    static let otherIP = "10.0.0.3"
    static let broadcast = "ff:ff:ff:ff:ff:ff"

    var trace = BootTrace(httpPorts: [8080])
    var time = 1_000.0

    mutating func feed(_ frame: [UInt8], after seconds: Double = 0.01) {
        time += seconds
        frame.withUnsafeBytes { _ = trace.ingest($0, linkType: .ethernet, at: time) }
    }

    func verdict(end: Double? = nil, vboot: Set<String> = [Segment.vbootIP]) -> BootVerdict {
        let report = TraceReport(trace, context: VerdictContext(vboot: vboot, end: end ?? time + 30))
        return report.stories.first { $0.mac == Segment.client }!.verdict!
    }

    var story: BootStory { trace.stories[.mac(LinkAddress(HardwareAddress(Segment.client)!)!)]! }

    // MARK: DHCP

    mutating func discover(ipxe: Bool = false) {
        feed(
            Frames.udpFrame(
                Self.client, "0.0.0.0", 68, Self.broadcast, "255.255.255.255", 67,
                Messages.client(.discover, mac: Self.client, ipxe: ipxe)))
    }

    mutating func offer(
        from mac: String, _ ip: String, address: String? = nil, nextServer: String? = nil, bootFile: String? = nil
    ) {
        feed(
            Frames.udpFrame(
                mac, ip, 67, Self.broadcast, "255.255.255.255", 68,
                Messages.server(
                    .offer, mac: Self.client, server: ip, address: address, nextServer: nextServer, bootFile: bootFile))
        )
    }

    mutating func requestAndAck(ipxe: Bool = false, bootFile: String? = nil, nextServer: String? = nil) {
        feed(
            Frames.udpFrame(
                Self.client, "0.0.0.0", 68, Self.broadcast, "255.255.255.255", 67,
                Messages.client(.request, mac: Self.client, ipxe: ipxe, server: Self.siteIP, requested: Self.clientIP)))
        feed(
            Frames.udpFrame(
                Self.site, Self.siteIP, 67, Self.broadcast, "255.255.255.255", 68,
                Messages.server(
                    .ack, mac: Self.client, server: Self.siteIP, address: Self.clientIP, nextServer: nextServer,
                    bootFile: bootFile)))
    }

    /// Firmware PXE: site address offer, vboot's proxy offer, REQUEST/ACK with the site.
    mutating func firmwareDHCP() {
        discover()
        offer(from: Self.site, Self.siteIP, address: Self.clientIP)
        offer(from: Self.vboot, Self.vbootIP, nextServer: Self.vbootIP, bootFile: "ipxe.efi")
        requestAndAck()
    }

    /// iPXE's DHCP: vboot answers with the script URL.
    mutating func ipxeDHCP(bootFile: String = "http://10.0.0.2:8080/boot.ipxe") {
        discover(ipxe: true)
        offer(from: Self.site, Self.siteIP, address: Self.clientIP)
        offer(from: Self.vboot, Self.vbootIP, bootFile: bootFile)
        requestAndAck(ipxe: true)
    }

    /// The usual chain up to the script: firmware DHCP, `ipxe.efi`, iPXE's DHCP, `GET /boot.ipxe`.
    mutating func toItsScript() {
        firmwareDHCP()
        tftp("ipxe.efi", blocks: 2)
        ipxeDHCP()
        http("/boot.ipxe")
    }

    // MARK: TFTP

    /// A read request from `port`, the OACK from the server's port 40000+, and `blocks` blocks of
    /// 1,468 bytes (the last `lastLength`) each acknowledged; `stopAfter` blocks cuts it short.
    mutating func tftp(
        _ file: String, port: UInt16 = 1501, server: (mac: String, ip: String) = (Segment.vboot, Segment.vbootIP),
        blocks: Int = 3, lastLength: Int = 100, stopAfter: Int? = nil, resend: Int = 0
    ) {
        let options = [TFTPOption("blksize", "1468"), TFTPOption("tsize", "0")]
        feed(
            Frames.udpFrame(
                Self.client, Self.clientIP, port, server.mac, server.ip, 69,
                Frames.tftp(.readRequest(TFTPRequest(filename: file, options: options)))))
        let serverPort = 40_000 + port
        let size = (blocks - 1) * 1468 + lastLength
        feed(
            Frames.udpFrame(
                server.mac, server.ip, serverPort, Self.client, Self.clientIP, port,
                Frames.tftp(.optionAcknowledgement([TFTPOption("blksize", "1468"), TFTPOption("tsize", "\(size)")]))))
        feed(
            Frames.udpFrame(
                Self.client, Self.clientIP, port, server.mac, server.ip, serverPort,
                Frames.tftp(.acknowledgement(block: 0))))
        for block in 1...(stopAfter ?? blocks) {
            let length = block == blocks ? lastLength : 1468
            for _ in 0...(block == 1 ? resend : 0) {
                feed(
                    Frames.udpFrame(
                        server.mac, server.ip, serverPort, Self.client, Self.clientIP, port,
                        Frames.data(block: UInt16(block), length: length)))
            }
            feed(
                Frames.udpFrame(
                    Self.client, Self.clientIP, port, server.mac, server.ip, serverPort,
                    Frames.tftp(.acknowledgement(block: UInt16(block)))))
        }
    }

    mutating func tftpError(
        _ file: String, port: UInt16, code: UInt16, message: String, fromClient: Bool = false, afterOACK: Bool = false
    ) {
        feed(
            Frames.udpFrame(
                Self.client, Self.clientIP, port, Self.vboot, Self.vbootIP, 69,
                Frames.tftp(.readRequest(TFTPRequest(filename: file, options: [TFTPOption("blksize", "1468")])))))
        let serverPort = 40_000 + port
        if afterOACK {
            feed(
                Frames.udpFrame(
                    Self.vboot, Self.vbootIP, serverPort, Self.client, Self.clientIP, port,
                    Frames.tftp(.optionAcknowledgement([TFTPOption("blksize", "1468")]))))
        }
        let error = Frames.tftp(.error(TFTPError(TFTPErrorCode(rawValue: code), message)))
        if fromClient {
            feed(Frames.udpFrame(Self.client, Self.clientIP, port, Self.vboot, Self.vbootIP, serverPort, error))
        } else {
            feed(Frames.udpFrame(Self.vboot, Self.vbootIP, serverPort, Self.client, Self.clientIP, port, error))
        }
    }

    // MARK: HTTP

    /// GET `path`, a status line with `length`, and the body in 1,400-byte segments (`deliver` of them).
    mutating func http(
        _ path: String, port: UInt16 = 50_001, status: String = "200 OK", length: Int = 800, deliver: Int? = nil,
        close: UInt8? = nil
    ) {
        feed(
            Frames.tcpFrame(
                Self.client, Self.clientIP, port, Self.vboot, Self.vbootIP, 8080, sequence: 1,
                Array("GET \(path) HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n\r\n".utf8)))
        let head = Array("HTTP/1.1 \(status)\r\nContent-Length: \(length)\r\n\r\n".utf8)
        var sequence: UInt32 = 5000
        feed(
            Frames.tcpFrame(Self.vboot, Self.vbootIP, 8080, Self.client, Self.clientIP, port, sequence: sequence, head))
        sequence += UInt32(head.count)
        var remaining = length
        var segments = 0
        while remaining > 0, segments < (deliver ?? .max) {
            let chunk = min(remaining, 1400)
            feed(
                Frames.tcpFrame(
                    Self.vboot, Self.vbootIP, 8080, Self.client, Self.clientIP, port, sequence: sequence,
                    [UInt8](repeating: 0x41, count: chunk)))
            sequence += UInt32(chunk)
            remaining -= chunk
            segments += 1
        }
        if let close {
            feed(
                Frames.tcpFrame(
                    Self.vboot, Self.vbootIP, 8080, Self.client, Self.clientIP, port, sequence: sequence, flags: close,
                    []))
        }
    }
}
