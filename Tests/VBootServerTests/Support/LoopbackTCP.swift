import Glibc

/// A blocking TCP socket connected to 127.0.0.1:`port`, for tests that play a client NIO would
/// not (one that reads slowly, never reads, or hangs up): the descriptor, or -1.
func connectLoopbackTCP(port: Int, configure: (Int32) -> Void = { _ in }) -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return -1 }
    configure(descriptor)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(descriptor)
        return -1
    }
    return descriptor
}
