import BootPolicy
import DHCPv4
import Testing

@Suite("silent loaders")
struct LoaderStartWatchTests {
    static let mac = HardwareAddress("52:54:00:12:34:56")!
    static let second: Int64 = 1_000_000

    static func sent(_ file: String, at: Int64, kind: BootEvent.Kind = .tftp, mac: HardwareAddress = mac) -> BootEvent {
        BootEvent(mac: mac, address: "10.0.0.5", at: at, kind: kind, outcome: .ok, summary: "", details: ["file": file])
    }

    @Test func anIPXENobodyStartedIsReportedOnce() throws {
        var watch = LoaderStartWatch(timeout: 90 * Self.second)
        watch.observe(Self.sent("ipxe.efi", at: 0))
        #expect(watch.overdue(now: 89 * Self.second).isEmpty)
        let late = watch.overdue(now: 90 * Self.second)
        let event = try #require(late.first)
        #expect(late.count == 1)
        #expect(event.mac == Self.mac && event.kind == .script && event.outcome == .failed)
        #expect(event.summary.contains("ipxe.efi was sent 90 s ago"))
        #expect(event.summary.contains("loader grub"))
        #expect(watch.overdue(now: 200 * Self.second).isEmpty, "said once")
    }

    /// Firmware that refuses iPXE over PXE tries HTTP boot next and fetches it again: the wait
    /// counts from the first send.
    @Test func sendsAgainDoNotRestartTheClock() throws {
        var watch = LoaderStartWatch(timeout: 90 * Self.second)
        watch.observe(Self.sent("ipxe.efi", at: 0))
        watch.observe(Self.sent("ipxe/ipxe.efi", at: 60 * Self.second, kind: .asset))
        let event = try #require(watch.overdue(now: 90 * Self.second).first)
        #expect(event.summary.hasPrefix("ipxe.efi was sent 90 s ago (2 times)"))
    }

    @Test func aScriptRequestMeansItStarted() {
        var watch = LoaderStartWatch(timeout: 90 * Self.second)
        watch.observe(Self.sent("ipxe.efi", at: 0))
        watch.observe(BootEvent(mac: Self.mac, at: 20 * Self.second, kind: .script, outcome: .ok, summary: ""))
        #expect(watch.overdue(now: 500 * Self.second).isEmpty)
    }

    @Test func aShimWaitsForGRUBsConfiguration() throws {
        var watch = LoaderStartWatch(timeout: 90 * Self.second)
        watch.observe(Self.sent("bootnetx64.efi", at: 0))
        watch.observe(Self.sent("grubx64.efi", at: Self.second))
        let event = try #require(watch.overdue(now: 100 * Self.second).first)
        #expect(event.summary.contains("GRUB has not asked"))
        #expect(event.summary.contains("next-server"))
    }

    @Test func httpBootAndOtherFilesCount() {
        var watch = LoaderStartWatch(timeout: 90 * Self.second)
        watch.observe(Self.sent("ipxe/ipxe.efi", at: 0, kind: .asset))
        watch.observe(Self.sent("debian-12/linux", at: 0, mac: HardwareAddress("52:54:00:00:00:02")!))
        watch.observe(Self.sent("undionly.kpxe", at: 0, mac: HardwareAddress("52:54:00:00:00:03")!))
        let late = watch.overdue(now: 90 * Self.second)
        #expect(late.map(\.mac) == [Self.mac], "kernels are not loaders; BIOS iPXE is not refused by Secure Boot")
    }

    @Test func memoryIsBounded() {
        var watch = LoaderStartWatch()
        for index in 0..<(LoaderStartWatch.capacity + 100) {
            let mac = HardwareAddress([
                0x52, 0x54, 0, UInt8(index >> 16 & 255), UInt8(index >> 8 & 255), UInt8(index & 255),
            ])
            watch.observe(Self.sent("ipxe.efi", at: Int64(index), mac: mac))
        }
        #expect(watch.count == LoaderStartWatch.capacity)
    }
}
