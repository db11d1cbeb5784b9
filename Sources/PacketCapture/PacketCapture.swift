import CPcap
import Glibc

/// libpcap behind one type: a live capture on an interface or a capture file (pcap or pcapng),
/// a BPF filter compiled into the kernel (live) or libpcap (files), an optional copy of every
/// packet to a file. Owns its handles; `deinit` closes them. Nothing else imports CPcap.
public final class PacketCapture {
    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    /// A live capture's descriptor, non-blocking: `next` waits on it with its own timeout, because
    /// libpcap's timeout does not apply in immediate mode with TPACKET_V3 (a quiet interface
    /// would block `next`, and with it a stop on a signal or a deadline, forever).
    private var descriptor: Int32 = -1
    private var waitMilliseconds: Int32 = 0

    /// The capture's link-layer type (LINKTYPE_*).
    public var linkType: Int32 { pcap_datalink(handle) }

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        pcap_close(handle)
    }

    /// Reads a capture file; pcap and pcapng alike, any user.
    public static func open(file path: String, filter: String? = nil) throws(CaptureError) -> PacketCapture {
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard
            let handle = pcap_open_offline_with_tstamp_precision(
                path, UInt32(PCAP_TSTAMP_PRECISION_MICRO), &errors)
        else { throw CaptureError("cannot read \(path): \(Self.text(errors))") }
        let capture = PacketCapture(handle: handle)
        if let filter { try capture.apply(filter) }
        return capture
    }

    /// Captures on an interface (root or CAP_NET_RAW), promiscuous, each packet delivered at once.
    /// `timeoutMilliseconds` bounds how long `next` waits, so a caller can stop on a deadline or a signal.
    public static func open(
        interface: String, filter: String? = nil, snapLength: Int32 = 65_535, bufferBytes: Int32? = nil,
        timeoutMilliseconds: Int32 = 200
    ) throws(CaptureError) -> PacketCapture {
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errors) else {
            throw CaptureError("cannot capture on \(interface): \(Self.text(errors))")
        }
        // Owned from here: a failed activation closes it in deinit.
        let capture = PacketCapture(handle: handle)
        pcap_set_snaplen(handle, snapLength)
        pcap_set_promisc(handle, 1)
        pcap_set_timeout(handle, timeoutMilliseconds)
        pcap_set_immediate_mode(handle, 1)
        if let bufferBytes { pcap_set_buffer_size(handle, bufferBytes) }
        let status = pcap_activate(handle)
        if status < 0 {
            var reason = String(cString: pcap_geterr(handle))
            if reason.isEmpty { reason = String(cString: pcap_statustostr(status)) }
            if status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED {
                reason += " (capturing needs root or CAP_NET_RAW; --read FILE works as any user)"
            }
            throw CaptureError("cannot capture on \(interface): \(reason)")
        }
        if let filter { try capture.apply(filter) }
        guard pcap_setnonblock(handle, 1, &errors) == 0 else {
            throw CaptureError("cannot capture on \(interface): \(Self.text(errors))")
        }
        capture.descriptor = pcap_get_selectable_fd(handle)
        capture.waitMilliseconds = timeoutMilliseconds
        return capture
    }

    private func apply(_ filter: String) throws(CaptureError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw CaptureError("bad filter \"\(filter)\": \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw CaptureError("cannot set filter \"\(filter)\": \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// Copies every packet `next` reads to a pcap file from now on.
    public func write(to path: String) throws(CaptureError) {
        guard let dumper = pcap_dump_open(handle, path) else {
            throw CaptureError("cannot write \(path): \(String(cString: pcap_geterr(handle)))")
        }
        self.dumper = dumper
    }

    public enum Read {
        case packet
        /// A live capture's timeout passed without a packet.
        case timeout
        /// The end of a file.
        case end
    }

    /// Reads one packet and hands it to `body` (its bytes are valid only inside the call).
    public func next(
        _ body: (_ bytes: UnsafeRawBufferPointer, _ wireLength: Int, _ time: Double) -> Void
    ) throws(CaptureError) -> Read {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        switch pcap_next_ex(handle, &header, &data) {
        case 1:
            guard let header, let data else { return .timeout }
            let packet = header.pointee
            if let dumper {
                pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), header, data)
            }
            let time = Double(packet.ts.tv_sec) + Double(packet.ts.tv_usec) / 1_000_000
            body(UnsafeRawBufferPointer(start: data, count: Int(packet.caplen)), Int(packet.len), time)
            return .packet
        case 0:
            // Non-blocking and nothing there: wait for the descriptor, at most the timeout.
            if descriptor >= 0 {
                var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&ready, 1, waitMilliseconds)
            }
            return .timeout
        case PCAP_ERROR_BREAK:
            return .end
        default:
            throw CaptureError("reading packets: \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// Writes buffered packets of `write(to:)` to the file.
    public func flush() {
        if let dumper { pcap_dump_flush(dumper) }
    }

    /// A live capture's counters: received, dropped by the kernel (buffer full), dropped by the interface.
    public func statistics() -> (received: UInt32, dropped: UInt32, interfaceDropped: UInt32)? {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return (stats.ps_recv, stats.ps_drop, stats.ps_ifdrop)
    }

    /// The IPv4 addresses libpcap lists for an interface.
    public static func addresses(of interface: String) -> [String] {
        var devices: UnsafeMutablePointer<pcap_if_t>?
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard pcap_findalldevs(&devices, &errors) == 0 else { return [] }
        defer { pcap_freealldevs(devices) }
        var result: [String] = []
        var device = devices
        while let current = device {
            if String(cString: current.pointee.name) == interface {
                var address = current.pointee.addresses
                while let entry = address {
                    if let socket = entry.pointee.addr, socket.pointee.sa_family == sa_family_t(AF_INET) {
                        let raw = socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                            UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                        }
                        result.append((0..<4).map { String(raw >> (24 - 8 * $0) & 0xFF) }.joined(separator: "."))
                    }
                    address = entry.pointee.next
                }
            }
            device = current.pointee.next
        }
        return result
    }

    /// libpcap's version line, for `vboot trace --version`-style diagnostics.
    public static var libraryVersion: String { String(cString: pcap_lib_version()) }
}

extension PacketCapture {
    /// libpcap's error buffer as text.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
