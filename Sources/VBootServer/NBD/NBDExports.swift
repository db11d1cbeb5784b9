import DHCPv4
import Dispatch
import Foundation
import NBD
import NIOConcurrencyHelpers
import NIOCore
import VBootStore

/// vboot's NBD exports, named for the images under `ASSETS/images/`:
///
/// - `IMAGE`: the image's block root (`root.img`), read-only, shared by every client;
/// - `IMAGE/MAC/TOKEN`: that machine's writable view of it, a `BlockOverlay` over the shared
///   base: scratch (the boot's whose `BootTokens` token it is, so a reboot is clean) or
///   persistent under `OVERLAYS/IMAGE/MAC` (kept across boots), as `layer` decides for the
///   machine, token and address (`NBDLayerPolicy`).
///
/// The base is served only while it matches the image's manifest (`ImageVerifier`).
final class NBDExports: NBDExportSource {
    enum Layer: Hashable, Sendable {
        /// Kept for one boot: its token's time.
        case scratch(boot: UInt64)
        case persistent
        case refused(String)
    }

    private let imagesRoot: String
    private let overlaysRoot: String
    private let images: ImageVerifier
    private let layer: @Sendable (HardwareAddress, _ token: String?, SocketAddress?) async -> Layer
    let layers: NBDLayerTable
    /// How long a scratch layer waits for its machine to reconnect after an unclean drop.
    static let scratchGrace = Duration.seconds(300)

    init(
        imagesRoot: String, overlaysRoot: String, images: ImageVerifier, scratchGrace: Duration = scratchGrace,
        startedAt: UInt64 = WallClock.millisecondsNow,
        layer: @escaping @Sendable (HardwareAddress, _ token: String?, SocketAddress?) async -> Layer
    ) {
        self.imagesRoot = imagesRoot
        self.overlaysRoot = overlaysRoot
        self.images = images
        self.layer = layer
        layers = NBDLayerTable(grace: scratchGrace, startedAt: startedAt)
    }

    struct Name: Equatable {
        var image: String
        /// A machine's own view: its MAC and the token its boot presented (nil: none given).
        var machine: HardwareAddress?
        var token: String?
    }

    /// An export name's parts: `IMAGE`, or `IMAGE/MAC/TOKEN` for a machine's own view
    /// (`IMAGE/MAC` too, to be refused with the reason rather than as an unknown name).
    static func parse(_ name: String) -> Name? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), isImageName(parts[0]) else { return nil }
        guard parts.count > 1 else { return Name(image: String(parts[0])) }
        guard let mac = HardwareAddress(parts[1]), mac.bytes.count == 6 else { return nil }
        return Name(image: String(parts[0]), machine: mac, token: parts.count == 3 ? String(parts[2]) : nil)
    }

    static func isImageName(_ name: Substring) -> Bool {
        !name.isEmpty && !name.hasPrefix(".")
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    func prepare(
        _ name: String, client: SocketAddress?, open: Bool, onTakeOver: @escaping @Sendable () -> Void
    ) async -> NBDPrepared {
        guard let parsed = Self.parse(name) else {
            return NBDPrepared(.unknown("\"\(name)\" is not IMAGE or IMAGE/MAC/TOKEN"))
        }
        let image = parsed.image
        let directory = imagesRoot + "/" + image
        let base = directory + "/" + ImageManifest.blockRootName
        guard let size = BootFileStore.regularFileSize(base) else {
            return NBDPrepared(
                .unknown("image \(image) has no \(ImageManifest.blockRootName) (vboot image build --block-root)"))
        }
        switch await images.wait(for: base) {
        case .refused(let why)?: return NBDPrepared(.refused(why))
        case nil: return NBDPrepared(.refused("\(base) is not named in its image's manifest"))
        default: break
        }
        var layer: Layer?
        if let machine = parsed.machine { layer = await self.layer(machine, parsed.token, client) }
        if case .refused(let why)? = layer { return NBDPrepared(.refused(why)) }
        let flags: NBDTransmissionFlags =
            parsed.machine == nil
            ? [.hasFlags, .readOnly] : [.hasFlags, .sendFlush, .sendFUA, .sendTrim, .sendWriteZeroes]
        let export = NBDNegotiation.Export(name: name, size: UInt64(size), flags: flags)
        guard open else { return NBDPrepared(.export(export)) }
        // The connection ended while this was looked up: it must not take the layer over.
        guard !Task.isCancelled else { return NBDPrepared(.refused("the connection ended")) }
        do {
            let device = try await self.open(
                image: image, base: base, machine: parsed.machine, layer: layer, onTakeOver: onTakeOver)
            return NBDPrepared(.export(export), device: device)
        } catch {
            return NBDPrepared(.refused("cannot open it: \(error)"))
        }
    }

    /// The device for an export `prepare` found: the base read-only, or the machine's layer as
    /// its policy said (scratch or persistent).
    private func open(
        image: String, base: String, machine: HardwareAddress?, layer: Layer?,
        onTakeOver: @escaping @Sendable () -> Void
    ) async throws -> any NBDDevice {
        // The digest the base was just checked against (the verifier's reading of the manifest).
        guard let digest = images.manifestEntry(for: base)?.sha256 else {
            throw BlockOverlay.OverlayError("\(base) is not named in its image's manifest")
        }
        guard let machine, let layer else {
            return try BlockOverlay(base: base, baseDigest: digest, storage: .readOnly)
        }
        let storage: BlockOverlay.Storage
        switch layer {
        case .refused(let why): throw BlockOverlay.OverlayError(why)
        case .persistent: storage = .persistent(path: "\(overlaysRoot)/\(image)/\(machine.hyphenated)")
        case .scratch:
            let scratch = overlaysRoot + "/.scratch"
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            storage = .scratch(directory: scratch)
        }
        let claim = try await layers.claim(
            "\(image)/\(machine.hyphenated)", layer: layer,
            make: { try BlockOverlay(base: base, baseDigest: digest, storage: storage) }, takeOver: onTakeOver)
        return ClaimedLayer(claim, table: layers)
    }
}

/// A machine's layer as one connection holds it: given back to the table when the connection ends.
final class ClaimedLayer: NBDDevice {
    private let claim: NBDLayerTable.Claim
    private let table: NBDLayerTable

    init(_ claim: NBDLayerTable.Claim, table: NBDLayerTable) {
        self.claim = claim
        self.table = table
    }

    func read(offset: UInt64, length: Int, into buffer: inout ByteBuffer) throws {
        try claim.overlay.read(offset: offset, length: length, into: &buffer)
    }
    func write(offset: UInt64, bytes: ByteBufferView) throws { try claim.overlay.write(offset: offset, bytes: bytes) }
    func writeZeroes(offset: UInt64, length: Int) throws {
        try claim.overlay.writeZeroes(offset: offset, length: length)
    }
    func flush() throws { try claim.overlay.flush() }
    func release(clean: Bool) {
        let (claim, table) = (self.claim, self.table)
        Task { await table.release(claim, clean: clean) }
    }
}
