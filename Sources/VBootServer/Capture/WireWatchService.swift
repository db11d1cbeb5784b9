import DHCPv4
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PacketCapture
import ServiceLifecycle
import WireTrace

/// `--capture INTERFACE`: reads DHCP off the interface (libpcap, the filter in the kernel) on a
/// thread of its own, since libpcap's reads block, and records other servers' answers to boot
/// clients on those clients' timelines (`WireWatch` decides which). It never answers anything:
/// a capture that breaks is logged and reopened, and the boot services go on.
final class WireWatchService: Service, Sendable {
    static let snapLength: Int32 = 1600
    /// DHCP only: a 500-machine storm is a few thousand frames.
    static let bufferBytes: Int32 = 4 << 20
    static let reopenDelay = 5.0
    static let addressRefresh = 60.0
    static let statisticsInterval = 5.0

    let interface: String
    private let listenAddress: IPv4Address?
    private let recorder: BootEventRecorder
    private let counters: ServerCounters
    private let logger: Logger
    /// Opened at start (a missing capability or interface stops the start with the reason);
    /// then read by the capture thread alone.
    private let opened: NIOLockedValueBox<PacketCaptureBox?>
    private let stopping = NIOLockedValueBox(false)

    init(
        interface: String, listenAddress: IPv4Address?, recorder: BootEventRecorder, counters: ServerCounters,
        logger: Logger
    ) throws {
        self.interface = interface
        self.listenAddress = listenAddress
        self.recorder = recorder
        self.counters = counters
        self.logger = logger
        do {
            opened = NIOLockedValueBox(PacketCaptureBox(try Self.open(interface)))
        } catch {
            throw StartupError("--capture \(interface): \(error)")
        }
    }

    private static func open(_ interface: String) throws(CaptureError) -> PacketCapture {
        try PacketCapture.open(
            interface: interface, filter: WireWatch.filter, snapLength: snapLength, bufferBytes: bufferBytes)
    }

    func run() async throws {
        logger.info("capture: watching DHCP on \(interface) for other servers' answers to boot clients")
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        readUntilStopped()
                        done.resume()
                    }
                    thread.name = "vboot-capture"
                    thread.start()
                }
            } onGracefulShutdown: { [self] in
                stopping.withLockedValue { $0 = true }
            }
        } onCancel: { [self] in
            stopping.withLockedValue { $0 = true }
        }
    }

    private var stopped: Bool { stopping.withLockedValue { $0 } }

    /// The capture thread: frames in, timeline events out, until shutdown.
    private func readUntilStopped() {
        var watch = WireWatch(ownAddresses: ownAddresses())
        var capture = opened.withLockedValue { box in
            defer { box = nil }
            return box?.capture
        }
        var lastRefresh = Date()
        var lastStatistics = Date()
        var reported = (skipped: 0, overflow: 0, dropped: UInt32(0))
        var warned: [IPv4Address: Date] = [:]
        while !stopped {
            guard let current = capture else {
                capture = reopen()
                continue
            }
            let linkType = LinkType(rawValue: current.linkType)
            var sightings: [WireSighting] = []
            do {
                _ = try current.next { bytes, _, time in
                    if let sighting = watch.ingest(bytes, linkType: linkType, at: time) { sightings.append(sighting) }
                }
            } catch {
                logger.error("capture on \(interface) stopped: \(error); reopening in \(Int(Self.reopenDelay)) s")
                capture = nil
                reported.dropped = 0
                continue
            }
            for sighting in sightings { record(sighting, warned: &warned) }
            let now = Date()
            if now.timeIntervalSince(lastRefresh) >= Self.addressRefresh {
                watch.ownAddresses = ownAddresses()
                lastRefresh = now
            }
            if now.timeIntervalSince(lastStatistics) >= Self.statisticsInterval {
                lastStatistics = now
                if watch.skipped > reported.skipped {
                    counters.increment(.wireFramesSkipped, by: watch.skipped - reported.skipped)
                    reported.skipped = watch.skipped
                }
                if watch.overflow > reported.overflow {
                    counters.increment(.wireTableOverflow, by: watch.overflow - reported.overflow)
                    reported.overflow = watch.overflow
                }
                if let dropped = current.statistics()?.dropped, dropped > reported.dropped {
                    counters.increment(.wireKernelDrops, by: Int(dropped - reported.dropped))
                    reported.dropped = dropped
                }
            }
        }
    }

    private func record(_ sighting: WireSighting, warned: inout [IPv4Address: Date]) {
        counters.increment(.wireSightings)
        recorder.record(
            .wire, .ok, mac: sighting.mac, address: sighting.address, source: sighting.server.description,
            summary: sighting.summary, details: sighting.details)
        guard sighting.competes else { return }
        counters.increment(.wireCompetingOffers)
        // Once per server every ten minutes: a storm is hundreds of offers from the same server.
        let now = Date()
        if let last = warned[sighting.server], now.timeIntervalSince(last) < 600 { return }
        if warned.count >= 64 { warned = warned.filter { now.timeIntervalSince($0.value) < 600 } }
        guard warned.count < 64 else { return }
        warned[sighting.server] = now
        logger.warning(
            "capture: \(sighting.server) also offers network boot, so clients may boot from it instead of vboot (to \(sighting.mac) it \(sighting.answer)); the machines' timelines show each offer"
        )
    }

    /// Waits (in short steps, so shutdown is not held up), then opens the capture again.
    private func reopen() -> PacketCapture? {
        let deadline = Date().addingTimeInterval(Self.reopenDelay)
        while !stopped, Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        guard !stopped else { return nil }
        do {
            let capture = try Self.open(interface)
            logger.info("capture: watching \(interface) again")
            return capture
        } catch {
            logger.debug("capture: \(error)")
            return nil
        }
    }

    /// Every IPv4 address of this host, and --listen: vboot's own answers are not news.
    private func ownAddresses() -> Set<IPv4Address> {
        var addresses = Set(((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipv4 })
        if let listenAddress { addresses.insert(listenAddress) }
        return addresses
    }
}

/// A capture handed from the starting task to the capture thread, which alone uses it.
private struct PacketCaptureBox: @unchecked Sendable {
    let capture: PacketCapture
    init(_ capture: PacketCapture) { self.capture = capture }
}
