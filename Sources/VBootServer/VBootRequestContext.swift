import DHCPv4
import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the client's address: timeline events and the
/// address-to-MAC table need to know who asked.
struct VBootRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var remoteIPv4: DHCPv4.IPv4Address? { remoteAddress?.ipv4 }
}
