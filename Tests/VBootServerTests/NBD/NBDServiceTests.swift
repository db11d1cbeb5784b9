import BootPolicy
import DHCPv4
import Foundation
import Logging
import NBD
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import VBootServer

/// vboot's NBD server on loopback with QEMU's NBD client (`qemu-io`, Debian's qemu-utils) as the
/// real client: the shared base read-only, a machine's own view writable, scratch or kept.
@Suite("NBD service", .serialized)
struct NBDServiceTests {
    static let base = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 / 4096 &+ 1) }
    static let persistentMAC = HardwareAddress("52:54:00:d1:5c:01")!
    static let refusedMAC = HardwareAddress("52:54:00:d1:5c:09")!

    struct Rig {
        var root: String
        var port: Int
        var counters: ServerCounters
        var task: Task<Void, any Error>
        /// The boot scratch layers belong to (a new value: the machines booted again).
        var boot = NIOLockedValueBox<UInt64>(1)
        var exports: NBDExports?
        var memory = NBDMemory()

        func stop() async {
            task.cancel()
            _ = await task.result
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    static func rig(
        base: [UInt8] = base, manifestBase: [UInt8] = base, scratchGrace: Duration = NBDExports.scratchGrace,
        startedAt: UInt64 = 0, memory: NBDMemory = NBDMemory(), timeouts: NBDTimeouts = NBDTimeouts()
    ) async throws -> Rig {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-nbd-\(UUID())").path
        let image = root + "/assets/images/lab"
        try FileManager.default.createDirectory(atPath: image, withIntermediateDirectories: true)
        try Data(base).write(to: URL(fileURLWithPath: image + "/root.img"))
        var manifest = ImageServingTests.manifest([(ImageManifest.blockRootName, manifestBase)])
        manifest.kernel = "6.1.0-50-amd64"
        try manifest.encoded().write(to: URL(fileURLWithPath: image + "/" + ImageManifest.fileName))
        let counters = ServerCounters()
        let logger = Logger(label: "test")
        let boot = NIOLockedValueBox<UInt64>(1)
        let exports = NBDExports(
            imagesRoot: root + "/assets/images", overlaysRoot: root + "/data/overlays",
            images: ImageVerifier(counters: counters, logger: logger), scratchGrace: scratchGrace,
            startedAt: startedAt
        ) { mac, _, _ in
            mac == persistentMAC
                ? .persistent
                : mac == refusedMAC
                    ? .refused("not this address's machine") : .scratch(boot: boot.withLockedValue { $0 })
        }
        let bound = NIOLockedValueBox<Int?>(nil)
        let service = NBDService(
            host: "127.0.0.1", port: 0, exports: exports, counters: counters, logger: logger,
            onBound: { port in bound.withLockedValue { $0 = port } }, memory: memory, timeouts: timeouts)
        let task = Task { try await service.run() }
        for _ in 0..<100 where bound.withLockedValue({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
        return Rig(
            root: root, port: try #require(bound.withLockedValue { $0 }), counters: counters, task: task, boot: boot,
            exports: exports, memory: memory)
    }

    /// `qemu-io -f raw [-r] -c COMMAND... nbd://127.0.0.1:PORT/EXPORT`: exit status and output.
    static func qemuIO(
        _ rig: Rig, _ export: String, readOnly: Bool = false, _ commands: [String]
    ) async throws
        -> (status: Int32, output: String)
    {
        try await HTTPServiceTests.offThePool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-io")
            process.arguments =
                ["-f", "raw"] + (readOnly ? ["-r"] : []) + commands.flatMap { ["-c", $0] }
                + ["nbd://127.0.0.1:\(rig.port)/\(export)"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    /// `read -P` fails unless every byte is the pattern.
    static func ok(_ result: (status: Int32, output: String)) -> Bool {
        result.status == 0 && !result.output.contains("Pattern verification failed")
            && !result.output.contains("failed")
    }

    @Test func theSharedBaseIsReadOnlyAndReadAsItIs() async throws {
        let rig = try await Self.rig()
        let read = try await Self.qemuIO(rig, "lab", readOnly: true, ["read -P 0x01 0 4k", "read -P 0x03 8k 4k"])
        #expect(Self.ok(read), "\(read.output)")
        let wrong = try await Self.qemuIO(rig, "lab", readOnly: true, ["read -P 0x07 0 4k"])
        #expect(!Self.ok(wrong), "a pattern that is not there passed: the check cannot fail")
        let write = try await Self.qemuIO(rig, "lab", ["write -P 0x5a 0 4k"])
        #expect(!Self.ok(write), "a write to the shared base went through: \(write.output)")
        #expect(rig.counters[.nbdBytesRead] >= 8192)
        await rig.stop()
    }

    @Test func aMachinesScratchViewTakesWritesAndTheNextBootStartsAfresh() async throws {
        let rig = try await Self.rig()
        let export = "lab/52-54-00-d1-5c-02"
        let session = try await Self.qemuIO(
            rig, export, ["write -P 0x5a 1000 10000", "read -P 0x5a 1000 10000", "read -P 0x01 0 1000", "flush"])
        #expect(Self.ok(session), "\(session.output)")
        // The same boot after its clean goodbye: its layer has ended, it gets no empty one.
        let ended = try await Self.qemuIO(rig, export, ["read -P 0x01 0 512"])
        #expect(ended.status != 0, "a boot whose scratch layer ended got a new one: \(ended.output)")
        rig.boot.withLockedValue { $0 += 1 }
        let again = try await Self.qemuIO(rig, export, ["read -P 0x01 1000 3096", "read -P 0x02 4096 4096"])
        #expect(Self.ok(again), "a scratch view kept its writes: \(again.output)")
        let base = try Data(contentsOf: URL(fileURLWithPath: rig.root + "/assets/images/lab/root.img"))
        let baseSame = Array(base) == Self.base
        #expect(baseSame, "the shared base was written")
        await rig.stop()
    }

    @Test func aPersistentViewKeepsItsWritesAcrossConnections() async throws {
        let rig = try await Self.rig()
        let export = "lab/52-54-00-d1-5c-01"
        let first = try await Self.qemuIO(rig, export, ["write -P 0x77 4096 8192", "flush"])
        #expect(Self.ok(first), "\(first.output)")
        let second = try await Self.qemuIO(rig, export, ["read -P 0x77 4096 8192", "read -P 0x01 0 4096"])
        #expect(Self.ok(second), "a persistent view lost its writes: \(second.output)")
        #expect(FileManager.default.fileExists(atPath: rig.root + "/data/overlays/lab/52-54-00-d1-5c-01.map"))
        // Another machine's view does not see them.
        let other = try await Self.qemuIO(rig, "lab/52-54-00-d1-5c-03", ["read -P 0x02 4096 4096"])
        #expect(Self.ok(other), "\(other.output)")
        await rig.stop()
    }

    @Test func refusedNamesAndAnUnverifiedBaseAreNotServed() async throws {
        let rig = try await Self.rig()
        for name in ["lab/52-54-00-d1-5c-09", "other", "lab/not-a-mac", "../lab", "lab/52-54-00-d1-5c-01/token/x"] {
            let refused = try await Self.qemuIO(rig, name, readOnly: true, ["read 0 512"])
            #expect(refused.status != 0, "\(name): \(refused.output)")
        }
        // Each refusal counted (and logged with its reason: the client sees only an error code).
        #expect(rig.counters[.nbdRequestsRefused] >= 5)
        await rig.stop()
        // A base that is not what its manifest names (one byte changed) is refused.
        var corrupted = Self.base
        corrupted[5000] ^= 0xFF
        let bad = try await Self.rig(base: corrupted)
        let refused = try await Self.qemuIO(bad, "lab", readOnly: true, ["read 0 512"])
        #expect(refused.status != 0, "a corrupted base was served: \(refused.output)")
        #expect(bad.counters[.imageVerificationFailures] == 1)
        await bad.stop()
    }
}

/// NBD as `vboot serve --nbd-port` runs it: a machine's own view only for the inventory's
/// machines, with the boot token vboot rendered into its boot script; kept with layer=persistent.
@Suite("NBD in vboot serve", .serialized)
struct NBDServeTests {
    static let config = """
        machines:
          - {mac: "52:54:00:d1:5c:01", hostname: lab-01, variables: {layer: persistent}}
          - {mac: "52:54:00:d1:5c:02", hostname: lab-02}
        """

    static func server() async throws -> TestServer {
        let server = try TestServer(configFile: config) { configuration, root in
            configuration.nbdPort = 0
            configuration.dataDirectory = root.appendingPathComponent("data").path
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("data"), withIntermediateDirectories: true)
        }
        try server.write(Array("#!ipxe\necho export lab/{{mac}}/{{boot_token}}\n".utf8), to: "scripts/default.ipxe")
        try server.write(NBDServiceTests.base, to: "assets/images/lab/root.img", settled: true)
        let manifest = ImageServingTests.manifest([(ImageManifest.blockRootName, NBDServiceTests.base)])
        try server.write(Array(try manifest.encoded()), to: "assets/images/lab/vboot-image.json", settled: true)
        try await server.start(expecting: ["http", "nbd"])
        return server
    }

    static func qemuIO(_ server: TestServer, _ export: String, _ commands: [String]) async throws -> (Int32, String) {
        let rig = NBDServiceTests.Rig(
            root: "", port: server.port("nbd"), counters: server.server.counters, task: Task {})
        let result = try await NBDServiceTests.qemuIO(rig, export, commands)
        return (result.status, result.output)
    }

    /// The export name the machine's boot script gives it: `lab/MAC/TOKEN`.
    static func bootScript(_ mac: String, _ server: TestServer) async throws -> String {
        let reply = try await HTTPServiceTests.get("/boot.ipxe?mac=\(mac)", port: server.port("http"))
        #expect(reply.status == 200)
        let text = String(decoding: reply.body, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("echo export ") })
        return String(line.dropFirst("echo export ".count))
    }

    @Test func aMachinesLayerIsGivenOnlyForItsBootTokenAndKeptWhenPersistent() async throws {
        let server = try await Self.server()
        let forged = String(repeating: "0", count: 16) + String(repeating: "ab", count: 16)
        // No token, a made-up one, a machine not in the inventory: refused.
        for name in ["lab/52-54-00-d1-5c-01", "lab/52-54-00-d1-5c-01/\(forged)", "lab/52-54-00-d1-5c-77/\(forged)"] {
            let refused = try await Self.qemuIO(server, name, ["read 0 512"])
            #expect(refused.0 != 0, "\(name) was served: \(refused.1)")
        }
        let first = try await Self.bootScript("52-54-00-d1-5c-01", server)
        let second = try await Self.bootScript("52-54-00-d1-5c-02", server)
        #expect(first.hasPrefix("lab/52-54-00-d1-5c-01/") && first.count == "lab/52-54-00-d1-5c-01/".count + 48)
        // One machine's token does not open another's layer.
        let swapped = "lab/52-54-00-d1-5c-01/" + second.split(separator: "/").last!
        let stolen = try await Self.qemuIO(server, swapped, ["read 0 512"])
        #expect(stolen.0 != 0, "lab-02's token opened lab-01's layer: \(stolen.1)")
        let written = try await Self.qemuIO(server, first, ["write -P 0x33 0 4096", "flush"])
        #expect(written.0 == 0, "\(written.1)")
        let kept = try await Self.qemuIO(server, first, ["read -P 0x33 0 4096"])
        #expect(NBDServiceTests.ok((kept.0, kept.1)), "layer=persistent lost its writes: \(kept.1)")
        // lab-02 (scratch) writes, and its connection breaks (no goodbye).
        let port = server.port("nbd")
        let pattern = [UInt8](repeating: 0x44, count: 4096)
        let wrote = try await NBDConnectionTests.offPool { () -> NBDErrno? in
            let client = try NBDTestClient(port: port)
            _ = try client.go(second)
            client.request(.write, handle: 1, offset: 0, length: 4096, data: pattern)
            return try client.reply()?.0
        }
        #expect(wrote == .ok)
        // Someone asks for a boot script in lab-02's name (anyone may): lab-02's boot goes on,
        // and its reconnect, with the token it booted with, finds its layer as it left it.
        let another = try await Self.bootScript("52-54-00-d1-5c-02", server)
        #expect(another != second)
        let reread = try await NBDConnectionTests.offPool { () -> [UInt8]? in
            let client = try NBDTestClient(port: port)
            _ = try client.go(second)
            client.request(.read, handle: 2, offset: 0, length: 4096)
            return try client.reply(reading: 4096)?.1.map { Array($0.readableBytesView) }
        }
        let same = reread == pattern
        #expect(same, "lab-02's reconnect within its boot got an empty layer after another script fetch")
        // The next boot (the newer token) starts afresh.
        let clean = try await Self.qemuIO(server, another, ["read -P 0x01 0 4096"])
        #expect(
            NBDServiceTests.ok((clean.0, clean.1)), "a new boot's scratch layer kept the last boot's writes: \(clean.1)"
        )
        await server.stop()
    }

    @Test func thePolicyWantsTheMachinesOwnLinkAddressAndItsBootToken() {
        let mac = HardwareAddress("52:54:00:d1:5c:01")!
        let other = HardwareAddress("52:54:00:d1:5c:66")!
        var machine = Machine(mac: mac, updatedAt: 1)
        func decide(
            _ machine: Machine?, _ boot: UInt64?, client: String? = "10.0.0.9", link: HardwareAddress? = mac
        ) -> NBDExports.Layer {
            NBDLayerPolicy.decide(
                machine: machine, client: client, isLoopback: client.map(NBDLayerPolicy.isLoopback) ?? false,
                linkAddress: link, boot: boot)
        }
        #expect(decide(nil, 42) == .refused("not in vboot's inventory"))
        #expect(decide(machine, 42) == .scratch(boot: 42))
        // Anyone may ask for a boot script in any machine's name: the wire decides whose address it is.
        #expect(
            decide(machine, 42, link: other)
                == .refused("10.0.0.9 is 52:54:00:d1:5c:66 on the wire, not 52:54:00:d1:5c:01"))
        guard case .refused(let why) = decide(machine, 42, link: nil) else {
            Issue.record("an address with no neighbour entry was given a layer")
            return
        }
        #expect(why.contains("not on a directly attached network"))
        guard case .refused(let noToken) = decide(machine, nil) else {
            Issue.record("a layer without a boot token")
            return
        }
        #expect(noToken.contains("no boot token"))
        #expect(decide(machine, 42, client: nil) == .refused("the connection's address is unknown"))
        // The server itself, on loopback, has no link-layer address to check; it still needs a token.
        #expect(decide(machine, 42, client: "127.0.0.1", link: nil) == .scratch(boot: 42))
        #expect(decide(machine, nil, client: "127.0.0.1", link: nil) != .scratch(boot: 42))
        machine.variables["layer"] = "persistent"
        #expect(decide(machine, 42) == .persistent)
    }

    @Test func theNeighbourTableIsReadAsTheKernelWritesIt() {
        let text = """
            IP address       HW type     Flags       HW address            Mask     Device
            10.77.0.147      0x1         0x2         52:54:00:d1:5c:01     *        eth0
            10.77.0.150      0x1         0x0         00:00:00:00:00:00     *        eth0
            10.77.0.1        0x1         0x6         aa:bb:cc:dd:ee:ff     *        eth0
            garbage
            """
        let table = NeighbourTable.parse(text)
        #expect(
            table == [
                "10.77.0.147": HardwareAddress("52:54:00:d1:5c:01")!,
                "10.77.0.1": HardwareAddress("aa:bb:cc:dd:ee:ff")!,
            ])
    }
}
