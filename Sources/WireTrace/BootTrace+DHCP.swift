import BootPolicy
import DHCPv4
import NIOCore

extension BootTrace {
    /// A DHCP message on 67, 68 or 4011: the client's questions and every server's answers.
    mutating func dhcp(
        _ payload: UnsafeRawBufferPointer, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let message: DHCPMessage
        do {
            message = try DHCPMessage(parsing: ByteBuffer(bytes: payload))
        } catch {
            skip(headers.payloadLength < headers.wirePayloadLength ? "DHCP cut by the snap length" : "malformed DHCP")
            return nil
        }
        guard let mac = LinkAddress(message.clientHardwareAddress), let type = message.messageType else {
            skip("DHCP without an Ethernet client address or a message type")
            return nil
        }
        decoded += 1
        let key = StoryKey.mac(mac)
        if message.op == .bootRequest {
            return dhcpRequest(message, type: type, key: key, headers: headers, at: time)
        }
        return dhcpReply(message, type: type, key: key, headers: headers, at: time)
    }

    private mutating func dhcpRequest(
        _ message: DHCPMessage, type: DHCPMessageType, key: StoryKey, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let client = try? BootClient.classify(message).get()
        let isIPXE = client?.program == .ipxe
        let toBootServer = headers.destinationPort == Self.bootServerPort
        // A client that asks from an address (a renewal, iPXE's REQUEST after its lease) owns it.
        // Not a relay's address (giaddr set): the relay forwards for many clients.
        let relayed = !message.giaddr.isAny
        if !headers.source.isAny, !relayed, let mac = key.mac { learn(headers.source, is: mac) }
        var what = "DHCP \(type)"
        if toBootServer { what = "PXE boot server \(type) to \(headers.destination):\(Self.bootServerPort)" }
        if type == .request, !toBootServer {
            let asked = message.requestedIPAddress ?? message.ciaddr
            // The ACK may not be in the capture (a unicast one, traced on vboot's port): the
            // address asked for is the one it will use.
            if !asked.isAny, !relayed, let mac = key.mac { learn(asked, is: mac) }
            what += message.serverIdentifier.map { " to \($0)" } ?? ""
            if !asked.isAny { what += " for \(asked)" }
        }
        var traits: [String] = []
        if let client { traits.append(isIPXE ? "iPXE" : "\(client.architecture), \(client.program)") }
        if client == nil { traits.append("not a network-boot client") }
        if !traits.isEmpty { what += " (\(traits.joined(separator: ", ")))" }
        return record(key, at: time, kind: "dhcp", what) { story in
            if story.architecture == nil, let architecture = try? message.clientArchitectures()?.first {
                story.architecture = "\(architecture) (\(architecture.rawValue))"
            }
            if !headers.source.isAny, !relayed { story.address = headers.source.description }
            story.dhcp.lastAsked = time
            if isIPXE {
                story.dhcp.fromIPXE += 1
                story.dhcp.lastIPXEAsk = time
            }
            story.dhcp.lastAskWasIPXE = isIPXE
            if toBootServer {
                story.dhcp.bootServerRequests += 1
                let server = headers.destination.description
                if !story.dhcp.bootServersAsked.contains(server), story.dhcp.bootServersAsked.count < 16 {
                    story.dhcp.bootServersAsked.append(server)
                }
            }
            switch type {
            case .discover: story.dhcp.discovers += 1
            case .request: story.dhcp.requests += 1
            default: break
            }
        }
    }

    private mutating func dhcpReply(
        _ message: DHCPMessage, type: DHCPMessageType, key: StoryKey, headers: FrameHeaders, at time: Double
    ) -> (story: StoryKey, step: BootStep)? {
        let server = (message.serverIdentifier ?? headers.source).description
        let bootFile = Self.bootFile(of: message)
        let nextServer = message.siaddr.isAny ? nil : message.siaddr.description
        let menu = Self.bootMenu(of: message)
        let kind = message.yiaddr.isAny ? "proxy" : "address"
        if type == .ack, !message.yiaddr.isAny, case .mac(let mac) = key { learn(message.yiaddr, is: mac) }
        var what = "DHCP \(type) from \(server)"
        if kind == "proxy", type != .nak { what += " (proxy)" }
        if let offered = Self.offered(
            address: message.yiaddr.isAny ? nil : message.yiaddr.description, nextServer: nextServer, server: server,
            bootFile: bootFile, menu: menu)
        {
            what += ": " + offered
        }
        if type == .offer || type == .ack, servers[server] != nil || servers.count < Self.serverLimit {
            var seen = servers[server] ?? ServerSeen(address: server)
            if type == .ack {
                seen.acks += 1
            } else if kind == "proxy" {
                seen.proxyOffers += 1
            } else {
                seen.addressOffers += 1
            }
            if let bootFile, !seen.bootFiles.contains(bootFile), seen.bootFiles.count < 16 {
                seen.bootFiles.append(bootFile)
            }
            if !seen.clients.contains(key.description), seen.clients.count < 64 { seen.clients.append(key.description) }
            servers[server] = seen
        }
        return record(key, at: time, kind: "dhcp", what) { story in
            story.dhcp.lastAnswered = time
            if !message.yiaddr.isAny { story.address = message.yiaddr.description }
            let toIPXE = story.dhcp.lastAskWasIPXE
            let seen = OfferSeen(
                server: server, kind: kind, address: message.yiaddr.isAny ? nil : message.yiaddr.description,
                bootFile: bootFile, nextServer: nextServer, menu: menu, toIPXE: toIPXE, count: 1, firstAt: time)
            switch type {
            case .offer: Self.merge(seen, into: &story.dhcp.offers)
            case .ack: Self.merge(seen, into: &story.dhcp.acks)
            case .nak: story.dhcp.naks += 1
            default: break
            }
        }
    }

    /// An address given to (or used by) a client; the map is bounded like the stories.
    mutating func learn(_ address: IPv4Address, is mac: LinkAddress) {
        guard addresses.count < Self.storyLimit || addresses[address] != nil else { return }
        addresses[address] = mac
        // Its address now: a later one from DHCP does not make the client look like a router.
        if senders[mac] != nil { senders[mac] = address }
    }

    /// What an answer offers, as the trace and the timeline write it: `address 10.0.0.5,
    /// next-server 10.0.0.1, boot pxelinux.0, PXE menu "…"`; nil when it offers none of these.
    static func offered(
        address: String?, nextServer: String?, server: String, bootFile: String?, menu: [String]?
    ) -> String? {
        var parts: [String] = []
        if let address { parts.append("address \(address)") }
        if let nextServer, nextServer != server || bootFile != nil { parts.append("next-server \(nextServer)") }
        if let bootFile { parts.append("boot \(bootFile)") }
        if let menu { parts.append("PXE menu " + menu.map { "\"\($0)\"" }.joined(separator: ", ")) }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// The boot file an answer names: `file`, or option 67 when `file` is empty or overloaded.
    static func bootFile(of message: DHCPMessage) -> String? {
        let file = message.bootFileName
        if !file.isEmpty { return clip(file) }
        guard let option = message.option(.bootfileName) else { return nil }
        let text = clip(String(decoding: option.prefix { $0 != 0 }, as: UTF8.self))
        return text.isEmpty ? nil : text
    }

    /// PXE boot menu descriptions (PXE 2.1 §2.4.7: type 2, length 1, text), when there is a menu.
    static func bootMenu(of message: DHCPMessage) -> [String]? {
        guard let vendor = try? message.pxeVendorOptions(), let data = vendor.value(.bootMenu) else { return nil }
        var entries: [String] = []
        var index = 0
        while index + 3 <= data.count, entries.count < 16 {
            let length = Int(data[index + 2])
            let end = min(data.count, index + 3 + length)
            entries.append(clip(String(decoding: data[(index + 3)..<end], as: UTF8.self)))
            index = end
        }
        return entries.isEmpty ? nil : entries
    }

    static func merge(_ seen: OfferSeen, into list: inout [OfferSeen]) {
        if let index = list.firstIndex(where: {
            ($0.server, $0.kind, $0.bootFile, $0.nextServer, $0.toIPXE) == (
                seen.server, seen.kind, seen.bootFile, seen.nextServer, seen.toIPXE
            )
                && $0.menu == seen.menu
        }) {
            list[index].count += 1
        } else if list.count < 64 {
            list.append(seen)
        }
    }
}

extension StoryKey {
    var mac: LinkAddress? {
        if case .mac(let mac) = self { return mac }
        return nil
    }
}
