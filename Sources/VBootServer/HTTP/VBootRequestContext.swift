import DHCPv4
import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the client's address: timeline events and the
/// address-to-MAC table need to know who asked, and assets are sent on the connection itself.
struct VBootRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?
    /// The connection, for the sendfile path (`FileRegionSender` in its pipeline).
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    var remoteIPv4: DHCPv4.IPv4Address? { remoteAddress?.ipv4 }
}
