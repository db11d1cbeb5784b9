import BootPolicy
import DHCPv4
import Dispatch
import Foundation
import Testing

@testable import VBootServer

/// The shim → GRUB chain over a real TFTP socket: shim and GRUB from the boot-file directory,
/// GRUB's first configuration, the machine's own rendered from the inventory, kernels by the
/// root-relative paths GRUB asks for.
@Suite("GRUB over TFTP")
struct GRUBChainServiceTests {
    static let mac = "52:54:00:12:34:56"
    static let config = """
        machines:
          - mac: "52:54:00:12:34:56"
            profile: declared
            loader: grub
            variables:
              console: "ttyS0'; reboot"
          - mac: "52:54:00:12:34:57"
            profile: scripted
            loader: grub
          - mac: "52:54:00:12:34:58"
            profile: declared
            next_boot: local
          - mac: "52:54:00:12:34:59"
            profile: scripted
            loader: grub
            next_boot: once
        """

    static func server() async throws -> TestServer {
        let server = try TestServer(configFile: config)
        try FileManager.default.createDirectory(
            at: server.root.appendingPathComponent("scripts/profiles"), withIntermediateDirectories: true)
        try """
        #: title Declared
        #: kernel {{assets}}/debian-12/linux
        #: initrd {{assets}}/debian-12/initrd.gz
        #: args --- console={{console}}
        """.write(
            to: server.root.appendingPathComponent("scripts/profiles/declared.profile"), atomically: true,
            encoding: .utf8)
        try "#!ipxe\nshell\n".write(
            to: server.root.appendingPathComponent("scripts/profiles/scripted.ipxe"), atomically: true, encoding: .utf8
        )
        try server.write(Array("shim".utf8), to: "ipxe/bootnetx64.efi")
        try server.write(Array("grub".utf8), to: "ipxe/grubx64.efi")
        try server.write(Array("kernel".utf8), to: "assets/debian-12/linux")
        try await server.start(expecting: ["tftp"])
        return server
    }

    /// The download blocks its thread while it waits for datagrams: off Swift's cooperative pool,
    /// which on a 2-core machine two waiting tests would fill, leaving the server's own rendering
    /// task no thread to run on.
    static func text(_ name: String, _ server: TestServer) async throws -> String {
        let port = server.port("tftp")
        let download = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try TFTPServiceTests.download(name, port: port) })
            }
        }
        #expect(download.error == nil, "\(name): \(String(describing: download.error))")
        return String(decoding: download.bytes, as: UTF8.self)
    }

    /// What the server has put on the timeline so far.
    static func timeline(_ server: TestServer) async throws -> [BootEvent] {
        let inventory = try #require(server.server.inventory)
        await inventory.recorder.flush()
        return try await inventory.store.timeline(mac: nil, limit: 100, before: nil)
    }

    @Test func shimGRUBAndKernelsByTheNamesTheyAskFor() async throws {
        let server = try await Self.server()
        #expect(try await Self.text("bootnetx64.efi", server) == "shim")
        #expect(try await Self.text("/grubx64.efi", server) == "grub")
        #expect(try await Self.text("/debian-12/linux", server) == "kernel")
        #expect(try await Self.text("/debian-installer/amd64/grub/grub.cfg", server) == GRUBChain.bootstrap)
        await server.stop()
    }

    @Test func theMachinesConfigurationIsItsDeclarativeProfile() async throws {
        let server = try await Self.server()
        let text = try await Self.text("/vboot/grub/\(Self.mac).cfg", server)
        // A value's space splits it into words, each quoted: no command can follow.
        #expect(text.contains("linux '/debian-12/linux' '---' 'console=ttyS0'\\'';' 'reboot'\n"))
        #expect(text.contains("initrd '/debian-12/initrd.gz'\n"))
        let events = try await Self.timeline(server)
        #expect(events.contains { $0.summary.hasPrefix("GRUB configuration: profile declared") })
        await server.stop()
    }

    @Test func whatGRUBCannotBootIsSaidOnTheScreenAndTheTimeline() async throws {
        let server = try await Self.server()
        let scripted = try await Self.text("/vboot/grub/52:54:00:12:34:57.cfg", server)
        #expect(scripted.contains("is an iPXE script"))
        #expect(scripted.contains("exit 1"))
        let unknown = try await Self.text("/vboot/grub/52:54:00:00:00:99.cfg", server)
        #expect(unknown.contains("not in the inventory"))
        let events = try await Self.timeline(server)
        let refused = events.filter { $0.outcome == .refused }
        #expect(
            refused.contains {
                $0.mac == HardwareAddress("52:54:00:12:34:57") && $0.summary.contains("is an iPXE script")
            })
        #expect(refused.contains { $0.summary.contains("52:54:00:00:00:99 is not in the inventory") })
        await server.stop()
    }

    /// A one-shot install GRUB cannot start is refused before it counts as handed out: the
    /// machine stays in `once`, no fetch counted, for when its profile is fixed.
    @Test func anInstallGRUBCannotStartIsNotUsedUp() async throws {
        let server = try await Self.server()
        let text = try await Self.text("/vboot/grub/52:54:00:12:34:59.cfg", server)
        #expect(text.contains("is an iPXE script"))
        let inventory = try #require(server.server.inventory)
        let machine = try #require(
            try await inventory.store.machine(MachineSelector(mac: HardwareAddress("52:54:00:12:34:59"))))
        #expect(machine.nextBoot == .once)
        #expect(machine.onceFetches == 0)
        await server.stop()
    }

    @Test func nextBootShellEndsAtGRUBsPrompt() async throws {
        let server = try await Self.server()
        let inventory = try #require(server.server.inventory)
        try await inventory.update(mac: HardwareAddress("52:54:00:12:34:58")!, by: "test") { $0.nextBoot = .shell }
        let text = try await Self.text("/vboot/grub/52:54:00:12:34:58.cfg", server)
        #expect(text.contains("set vboot_prompt=1\n"))
        #expect(!text.contains("exit"))
        await server.stop()
    }

    @Test func nextBootLocalReturnsToTheFirmware() async throws {
        let server = try await Self.server()
        let text = try await Self.text("/vboot/grub/52:54:00:12:34:58.cfg", server)
        #expect(text.contains("boots from its local disk"))
        #expect(text.contains("exit 1"))
        #expect(!text.contains("linux "))
        await server.stop()
    }
}
