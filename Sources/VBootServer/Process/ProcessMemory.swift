import CLinux
import Glibc

/// The process's memory as the kernel and the allocator see it, for `/metrics` and the heap
/// trimmer: resident set, heap bytes in use, and heap bytes free but still held.
struct ProcessMemory: Sendable {
    var residentBytes: Int
    var heapInUseBytes: Int
    var heapFreeBytes: Int

    static func current() -> ProcessMemory {
        ProcessMemory(
            residentBytes: residentBytes(), heapInUseBytes: vboot_heap_in_use(), heapFreeBytes: vboot_heap_free())
    }

    /// Second field of /proc/self/statm, in pages.
    private static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { return 0 }
        let fields = bytes[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * sysconf(Int32(_SC_PAGESIZE))
    }

    /// Prometheus gauges (the resident set under the name client libraries use).
    var prometheusText: String {
        """
        process_resident_memory_bytes \(residentBytes)
        vboot_heap_in_use_bytes \(heapInUseBytes)
        vboot_heap_free_bytes \(heapFreeBytes)

        """
    }
}
