import DHCPv4
import Dispatch
import Foundation
import NBD
import NIOConcurrencyHelpers
import NIOCore

/// vboot's NBD exports, named for the images under `ASSETS/images/`:
///
/// - `IMAGE`: the image's block root (`root.img`), read-only, shared by every client;
/// - `IMAGE/MAC`: that machine's writable view of it, a `BlockOverlay` over the shared base:
///   scratch (empty at each connection, so a reboot is clean) or persistent under
///   `OVERLAYS/IMAGE/MAC` (kept across boots), as `layer` decides for the machine and address.
///
/// The base is served only while it matches the image's manifest (`ImageVerifier`).
final class NBDExports: NBDExportSource {
    enum Layer: Hashable, Sendable {
        case scratch
        case persistent
        case refused(String)
    }

    private let imagesRoot: String
    private let overlaysRoot: String
    private let images: ImageVerifier
    private let layer: @Sendable (HardwareAddress, SocketAddress?) async -> Layer
    /// Persistent overlays in use, by path: a second connection for one (the machine rebooted
    /// and its old connection has not timed out) takes it over: the first is closed, its writes
    /// flushed, then the second opens it. Two writers of one map would lose blocks.
    private let claims = NIOLockedValueBox<[String: OverlayClaim]>([:])
    static let takeOverTimeout = DispatchTimeInterval.seconds(10)

    init(
        imagesRoot: String, overlaysRoot: String, images: ImageVerifier,
        layer: @escaping @Sendable (HardwareAddress, SocketAddress?) async -> Layer
    ) {
        self.imagesRoot = imagesRoot
        self.overlaysRoot = overlaysRoot
        self.images = images
        self.layer = layer
    }

    /// An export name's parts: the image and, for a machine's own view, its MAC.
    static func parse(_ name: String) -> (image: String, machine: HardwareAddress?)? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), isImageName(parts[0]) else { return nil }
        guard parts.count == 2 else { return (String(parts[0]), nil) }
        guard let mac = HardwareAddress(parts[1]), mac.bytes.count == 6 else { return nil }
        return (String(parts[0]), mac)
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

    func lookup(_ name: String, client: SocketAddress?) -> NBDNegotiation.Lookup {
        guard let (image, machine) = Self.parse(name) else {
            return .unknown("\"\(name)\" is not IMAGE or IMAGE/MAC")
        }
        let path = imagesRoot + "/" + image + "/" + ImageManifest.blockRootName
        guard let size = BootFileStore.regularFileSize(path) else {
            return .unknown("image \(image) has no \(ImageManifest.blockRootName) (vboot image build --block-root)")
        }
        let images = self.images
        switch Self.blocking({ await images.wait(for: path) }) {
        case .refused(let why)?: return .refused(why)
        case nil: return .refused("\(path) is not named in its image's manifest")
        default: break
        }
        var flags: NBDTransmissionFlags = [.hasFlags, .sendFlush, .sendFUA, .sendTrim, .sendWriteZeroes]
        if let machine {
            if case .refused(let why) = Self.blocking({ await self.layer(machine, client) }) { return .refused(why) }
        } else {
            flags = [.hasFlags, .readOnly]
        }
        return .export(NBDNegotiation.Export(name: name, size: UInt64(size), flags: flags))
    }

    func open(
        _ export: NBDNegotiation.Export, client: SocketAddress?, onTakeOver: @escaping @Sendable () -> Void
    ) throws -> any NBDDevice {
        guard let (image, machine) = Self.parse(export.name) else { throw BlockOverlay.OverlayError("bad name") }
        let directory = imagesRoot + "/" + image
        let base = directory + "/" + ImageManifest.blockRootName
        let manifest = try ImageManifest.decode(
            try Data(contentsOf: URL(fileURLWithPath: directory + "/" + ImageManifest.fileName)))
        guard let digest = manifest.file(named: ImageManifest.blockRootName)?.sha256 else {
            throw BlockOverlay.OverlayError("\(base) is not named in its image's manifest")
        }
        let scratch = overlaysRoot + "/.scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        guard let machine else {
            // Read-only: nothing is written, the overlay's map stays empty.
            return try BlockOverlay(base: base, baseDigest: digest, dataPath: nil, scratchDirectory: scratch)
        }
        guard Self.blocking({ await self.layer(machine, client) }) == .persistent else {
            return try BlockOverlay(base: base, baseDigest: digest, dataPath: nil, scratchDirectory: scratch)
        }
        let dataPath = "\(overlaysRoot)/\(image)/\(machine.hyphenated)"
        let claim = OverlayClaim(takeOver: onTakeOver)
        if let previous = claims.withLockedValue({ claims -> OverlayClaim? in
            defer { claims[dataPath] = claim }
            return claims[dataPath]
        }) {
            previous.takeOver()
            guard previous.released.wait(timeout: .now() + Self.takeOverTimeout) == .success else {
                throw BlockOverlay.OverlayError("\(dataPath) is still held by an earlier connection")
            }
        }
        do {
            let overlay = try BlockOverlay(
                base: base, baseDigest: digest, dataPath: dataPath, scratchDirectory: scratch)
            return ClaimedOverlay(overlay) { [claims] in
                claims.withLockedValue { if $0[dataPath] === claim { $0[dataPath] = nil } }
                claim.released.signal()
            }
        } catch {
            claims.withLockedValue { if $0[dataPath] === claim { $0[dataPath] = nil } }
            claim.released.signal()
            throw error
        }
    }

    /// Waits for async work on the connection's queue (which may block): the image's first
    /// hash, the inventory.
    private static func blocking<T: Sendable>(_ work: @escaping @Sendable () async -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox<T?>(nil)
        Task {
            let value = await work()
            result.withLockedValue { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLockedValue { $0 }!
    }
}

final class OverlayClaim: Sendable {
    let takeOver: @Sendable () -> Void
    /// Signalled when the holder's overlay is flushed and closed.
    let released = DispatchSemaphore(value: 0)
    init(takeOver: @escaping @Sendable () -> Void) { self.takeOver = takeOver }
}

/// A persistent overlay that gives its claim back when the connection lets it go.
final class ClaimedOverlay: NBDDevice {
    private let overlay: BlockOverlay
    private let onRelease: @Sendable () -> Void

    init(_ overlay: BlockOverlay, onRelease: @escaping @Sendable () -> Void) {
        self.overlay = overlay
        self.onRelease = onRelease
    }

    deinit { onRelease() }

    func read(offset: UInt64, length: Int, into buffer: inout ByteBuffer) throws {
        try overlay.read(offset: offset, length: length, into: &buffer)
    }
    func write(offset: UInt64, bytes: ByteBufferView) throws { try overlay.write(offset: offset, bytes: bytes) }
    func writeZeroes(offset: UInt64, length: Int) throws { try overlay.writeZeroes(offset: offset, length: length) }
    func flush() throws { try overlay.flush() }
}
