import Foundation
import Glibc
import NBD
import NIOCore

@testable import VBootServer

/// A bare NBD client on a blocking socket, for what QEMU's client never does: stop reading its
/// replies, drop the connection without a goodbye, hold a layer while another connection takes it.
final class NBDTestClient: @unchecked Sendable {
    let descriptor: Int32

    /// Connects to 127.0.0.1:`port`; reads wait at most `timeout` (15 s: a CI run that compiled
    /// beside the unit tests starved the server's lookups past 5 s; only a failing read waits it out).
    init(port: Int, timeout: Int = 15) throws {
        descriptor = connectLoopbackTCP(port: port)
        guard descriptor >= 0 else { throw BlockOverlay.OverlayError.system("connect") }
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Reads from now on wait at most `seconds`.
    func waitAtMost(_ seconds: Int) {
        var wait = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Ends the connection without a goodbye (the descriptor stays this client's until deinit).
    func drop() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    /// Sends requests of `length`-byte reads, `total` bytes of them, for at most `seconds`
    /// (a send that cannot go on within that time stops it): the bytes the server took.
    func flood(reads length: UInt32, total: Int, seconds: Int) -> Int {
        var wait = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var chunk = ByteBuffer()
        for handle in 0..<(64 << 10) / NBDRequest.size {
            NBDRequest(command: .read, handle: UInt64(handle), offset: 0, length: length).encode(into: &chunk)
        }
        let bytes = Array(chunk.readableBytesView)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var sent = 0
        while sent < total, ContinuousClock.now < deadline {
            let done = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress!, bytes.count, 0) }
            guard done > 0 else { break }
            sent += done
            // A partial send leaves a request cut in two: the rest of the chunk follows it.
            if done < bytes.count {
                let rest = bytes.withUnsafeBytes {
                    Glibc.send(descriptor, $0.baseAddress! + done, bytes.count - done, 0)
                }
                guard rest > 0 else { break }
                sent += rest
            }
        }
        return sent
    }

    func send(_ buffer: ByteBuffer) {
        let bytes = Array(buffer.readableBytesView)
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + done, bytes.count - done, 0) }
            guard sent > 0 else { return }
            done += sent
        }
    }

    /// Exactly `count` bytes, or nil when the server closed the connection (or went quiet).
    func receive(_ count: Int) -> ByteBuffer? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + done, count - done, 0) }
            guard got > 0 else { return nil }
            done += got
        }
        return ByteBuffer(bytes: bytes)
    }

    /// Greeting, flags, GO for `export` (and `then`, requests sent behind it in the same bytes):
    /// the replies' types up to the ACK or an error.
    func go(_ export: String, then: ByteBuffer = ByteBuffer()) throws -> [NBDReplyType] {
        guard var greeting = receive(NBDGreeting.size), try NBDGreeting.parse(&greeting) != nil else { return [] }
        var out = ByteBuffer()
        NBDClientFlags(flags: [.fixedNewstyle, .noZeroes]).encode(into: &out)
        NBDOption(type: .go, data: NBDExportRequest(name: export).encode()).encode(into: &out)
        var then = then
        out.writeBuffer(&then)
        send(out)
        var types: [NBDReplyType] = []
        while let header = receive(20) {
            let length = Int(header.getInteger(at: 16, as: UInt32.self)!)
            let type = NBDReplyType(rawValue: header.getInteger(at: 12, as: UInt32.self)!)
            if length > 0 { guard receive(length) != nil else { break } }
            types.append(type)
            if type == .ack || type.isError { break }
        }
        return types
    }

    func request(_ command: NBDCommand, handle: UInt64, offset: UInt64, length: UInt32, data: [UInt8] = []) {
        var out = ByteBuffer()
        NBDRequest(command: command, handle: handle, offset: offset, length: length).encode(into: &out)
        out.writeBytes(data)
        send(out)
    }

    /// A reply's errno (and a read's data, `length` bytes).
    func reply(reading length: Int = 0) throws -> (NBDErrno, ByteBuffer?)? {
        guard var header = receive(NBDSimpleReply.size), let reply = try NBDSimpleReply.parse(&header) else {
            return nil
        }
        guard reply.error == .ok, length > 0 else { return (reply.error, nil) }
        return (reply.error, receive(length))
    }

    /// True when the server has closed the connection (a read ends at once with nothing, or with
    /// a reset when the server closed with bytes of ours unread).
    var isClosedByServer: Bool {
        var byte: UInt8 = 0
        let got = recv(descriptor, &byte, 1, 0)
        return got == 0 || (got < 0 && errno == ECONNRESET)
    }
}
