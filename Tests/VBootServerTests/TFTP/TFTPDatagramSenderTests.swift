import Glibc
import NIOCore
import TFTP
import Testing

@testable import VBootServer

/// The engine's send path on real loopback sockets: what arrives is DATA with the right block
/// numbers and bytes, for a lone block, a window, a window ending in the empty last block, and a
/// block number past 65535.
@Suite("TFTP datagram sender")
struct TFTPDatagramSenderTests {
    static let blockSize = 512

    static func byteRange(_ fileSize: Int) -> (Int) -> Range<Int> {
        { block in
            let start = min((block - 1) * blockSize, fileSize)
            return start..<min(start + blockSize, fileSize)
        }
    }

    /// Sends `blocks` of `file` and returns what a socket on 127.0.0.1 received, as (block, bytes).
    static func sent(_ blocks: ClosedRange<Int>, of file: [UInt8]) throws -> [(UInt16, [UInt8])] {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let sending = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer {
            close(receiver)
            close(sending)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(receiver, $0, length)
                return getsockname(receiver, $0, &length)
            }
        }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let ranges = byteRange(file.count)
        let span = ranges(blocks.lowerBound).lowerBound..<ranges(blocks.upperBound).upperBound
        file.withUnsafeBytes { bytes in
            TFTPDatagramSender().sendData(
                blocks, from: span.isEmpty ? nil : bytes.baseAddress! + span.lowerBound, byteRange: ranges,
                on: sending, to: address)
        }
        var received: [(UInt16, [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        for _ in blocks {
            let count = recv(receiver, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            guard case .data(let block, let data) = try TFTPPacket(parsing: ByteBuffer(bytes: buffer[..<count])) else {
                throw TFTPTestError.notData
            }
            received.append((block, Array(data.readableBytesView)))
        }
        return received
    }

    enum TFTPTestError: Error { case notData }

    /// (blocks sent, file size): a lone block; a window whose last block is short; a window
    /// ending in the empty block after a file of whole blocks; block numbers that wrap.
    @Test(arguments: [(1...1, 1024), (2...4, 1324), (2...3, 1024), (65535...65537, 65537 * 512 - 100)])
    func everyBlockArrivesWithItsNumberAndBytes(blocks: ClosedRange<Int>, size: Int) throws {
        var file = [UInt8](repeating: 0, count: size)
        let ranges = Self.byteRange(size)
        for index in ranges(blocks.lowerBound).lowerBound..<ranges(blocks.upperBound).upperBound {
            file[index] = UInt8(truncatingIfNeeded: index &* 7 &+ index >> 9)
        }
        let received = try Self.sent(blocks, of: file)
        #expect(received.map(\.0) == blocks.map { UInt16(truncatingIfNeeded: $0) })
        for ((_, bytes), block) in zip(received, blocks) {
            #expect(bytes == Array(file[Self.byteRange(file.count)(block)]), "block \(block)")
        }
    }
}
