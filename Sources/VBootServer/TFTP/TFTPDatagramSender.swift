import CLinux
import Glibc
import TFTP

/// How the transfer engine's thread puts packets on a transfer's socket: a single packet with
/// sendto; a window of DATA packets as one sendmmsg, each datagram two pieces (its 4-octet header
/// from a reused array, its block straight from where the file's bytes lie), so the kernel copies
/// each block once; a lone block (lockstep) as one contiguous sendto, cheaper than a vector.
/// Buffers are reused for the sender's life; one thread only.
final class TFTPDatagramSender {
    private var headers: UnsafeMutableRawBufferPointer
    private var lockstepScratch: UnsafeMutableRawBufferPointer
    private var messages: [vboot_mmsghdr] = []
    private var vectors: [iovec] = []

    init() {
        headers = .allocate(byteCount: 4 * 64, alignment: 4)
        lockstepScratch = .allocate(byteCount: 1472, alignment: 16)
    }

    deinit {
        headers.deallocate()
        lockstepScratch.deallocate()
    }

    func send(_ bytes: UnsafeRawBufferPointer, on fd: Int32, to peer: sockaddr_in) {
        var peer = peer
        _ = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// DATA for `blocks`, whose bytes lie at `base` (nil: every block is empty), `base` being the
    /// first byte of `blocks.lowerBound`; `byteRange` gives each block's range in the file. A full
    /// socket buffer drops the rest of the window; the client's ACK or the timer brings it back,
    /// as it would a lost datagram.
    func sendData(
        _ blocks: ClosedRange<Int>, from base: UnsafeRawPointer?, byteRange: (Int) -> Range<Int>, on fd: Int32,
        to peer: sockaddr_in
    ) {
        let spanStart = byteRange(blocks.lowerBound).lowerBound
        if blocks.count == 1 {
            let length = 4 + byteRange(blocks.lowerBound).count
            if lockstepScratch.count < length {
                lockstepScratch.deallocate()
                lockstepScratch = .allocate(byteCount: length, alignment: 16)
            }
            let packet = lockstepScratch.baseAddress!
            Self.header(block: blocks.lowerBound, at: packet)
            if let base { (packet + 4).copyMemory(from: base, byteCount: length - 4) }
            return send(UnsafeRawBufferPointer(start: packet, count: length), on: fd, to: peer)
        }
        reserve(blocks.count)
        var peer = peer
        withUnsafeMutablePointer(to: &peer) { peerPointer in
            vectors.withUnsafeMutableBufferPointer { vectors in
                messages.withUnsafeMutableBufferPointer { messages in
                    for (index, block) in blocks.enumerated() {
                        let range = byteRange(block)
                        let header = headers.baseAddress! + 4 * index
                        Self.header(block: block, at: header)
                        vectors[2 * index] = iovec(iov_base: header, iov_len: 4)
                        if let base {
                            vectors[2 * index + 1] = iovec(
                                iov_base: UnsafeMutableRawPointer(mutating: base + (range.lowerBound - spanStart)),
                                iov_len: range.count)
                        }
                        messages[index] = vboot_mmsghdr()
                        messages[index].msg_hdr.msg_name = UnsafeMutableRawPointer(peerPointer)
                        messages[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                        messages[index].msg_hdr.msg_iov = vectors.baseAddress! + 2 * index
                        messages[index].msg_hdr.msg_iovlen = range.isEmpty ? 1 : 2
                    }
                    var sent = 0
                    while sent < blocks.count {
                        let n = vboot_sendmmsg(fd, messages.baseAddress! + sent, UInt32(blocks.count - sent), 0)
                        guard n > 0 else { break }
                        sent += Int(n)
                    }
                }
            }
        }
    }

    private func reserve(_ count: Int) {
        guard messages.count < count else { return }
        messages = [vboot_mmsghdr](repeating: vboot_mmsghdr(), count: count)
        vectors = [iovec](repeating: iovec(), count: 2 * count)
        headers.deallocate()
        headers = .allocate(byteCount: 4 * count, alignment: 4)
    }

    /// DATA's header (RFC 1350 §5): opcode 3, then the block number, which wraps at 65535.
    private static func header(block: Int, at pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: TFTPOpcode.data.rawValue.bigEndian, as: UInt16.self)
        pointer.storeBytes(of: UInt16(truncatingIfNeeded: block).bigEndian, toByteOffset: 2, as: UInt16.self)
    }
}
