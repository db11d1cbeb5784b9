import Glibc
import NIOCore
import Synchronization

/// A read-only file read at offsets (pread), shared by one transfer's sends.
final class FileReader: Sendable {
    struct OpenError: Error, CustomStringConvertible {
        var path: String
        var errno: Int32
        var description: String { "cannot open \(path): \(String(cString: strerror(errno)))" }
    }

    private let descriptor: Int32
    private let closed = Atomic<Bool>(false)

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OpenError(path: path, errno: errno) }
        descriptor = fd
    }

    /// Appends `count` octets from `offset` to `buffer`; false on a short or failed read.
    func read(into buffer: inout ByteBuffer, offset: Int, count: Int) -> Bool {
        guard count > 0 else { return true }
        var complete = false
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            complete = read(
                into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<count]), offset: offset, count: count)
            return complete ? count : 0
        }
        return complete
    }

    /// A descriptor for sendfile, owned by the returned handle (close it when the send is over).
    static func openForSending(_ path: String) throws -> (handle: NIOFileHandle, descriptor: Int32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OpenError(path: path, errno: errno) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        return (NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd), fd)
    }

    /// The size of the open file now (it may have been truncated since it was opened).
    static func currentSize(of descriptor: Int32) -> Int? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Fills `destination` with `count` octets from `offset`; false on a short or failed read.
    func read(into destination: UnsafeMutableRawBufferPointer, offset: Int, count: Int) -> Bool {
        var total = 0
        while total < count {
            let n = pread(descriptor, destination.baseAddress! + total, count - total, off_t(offset + total))
            if n <= 0 { return false }
            total += n
        }
        return true
    }

    /// The file will be read front to back: let the kernel read ahead further.
    func adviseSequential() { _ = posix_fadvise(descriptor, 0, 0, POSIX_FADV_SEQUENTIAL) }

    func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { Glibc.close(descriptor) }
    }

    deinit { close() }
}
