import Foundation
import Glibc
import NBD
import NIOCore
import Testing

@testable import VBootServer

/// A machine's writable view of the shared base: its writes in its own file, the base never
/// touched, a persistent map kept across opens and bound to its base.
@Suite("NBD: block overlays")
struct BlockOverlayTests {
    static let base = (0..<(5 * 4096 + 100)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vboot-overlay-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data(base).write(to: URL(fileURLWithPath: path + "/root.img"))
        return path
    }

    static func read(_ overlay: BlockOverlay, _ offset: UInt64, _ length: Int) throws -> [UInt8] {
        var buffer = ByteBuffer()
        try overlay.read(offset: offset, length: length, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test func writesLandInTheOverlayAndPartialBlocksKeepTheBaseAroundThem() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let overlay = try BlockOverlay(
            base: directory + "/root.img", baseDigest: "d1", storage: .scratch(directory: directory))
        #expect(overlay.size == UInt64(Self.base.count))
        // 100 bytes across the boundary of blocks 1 and 2, and the short last block.
        let written = [UInt8](repeating: 0xEE, count: 100)
        try overlay.write(offset: 8192 - 50, bytes: ByteBuffer(bytes: written).readableBytesView)
        try overlay.writeZeroes(offset: UInt64(5 * 4096 + 10), length: 20)
        var expected = Self.base
        expected.replaceSubrange((8192 - 50)..<(8192 + 50), with: written)
        expected.replaceSubrange((5 * 4096 + 10)..<(5 * 4096 + 30), with: [UInt8](repeating: 0, count: 20))
        let whole = try Self.read(overlay, 0, Self.base.count)
        let wholeSame = whole == expected
        #expect(wholeSame)
        let inner = try Self.read(overlay, 4000, 5000)
        let innerSame = inner == Array(expected[4000..<9000])
        #expect(innerSame)
        #expect(overlay.blocksWritten == 3)
        // The base is never written.
        let base = try Data(contentsOf: URL(fileURLWithPath: directory + "/root.img"))
        let baseSame = Array(base) == Self.base
        #expect(baseSame)
    }

    @Test func aPersistentOverlayIsThereAfterAFlushAndOnlyOverItsOwnBase() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = directory + "/overlays/lab/52-54-00-d1-5c-01"
        do {
            let overlay = try BlockOverlay(
                base: directory + "/root.img", baseDigest: "d1", storage: .persistent(path: data))
            try overlay.write(
                offset: 4096, bytes: ByteBuffer(bytes: [UInt8](repeating: 0x11, count: 4096)).readableBytesView)
            try overlay.flush()
            // After the flush: not in the map on disk, so lost on a crash, as the protocol allows.
            try overlay.write(offset: 0, bytes: ByteBuffer(bytes: [0x22]).readableBytesView)
        }
        let reopened = try BlockOverlay(
            base: directory + "/root.img", baseDigest: "d1", storage: .persistent(path: data))
        let kept = try Self.read(reopened, 4096, 4096)
        let keptSame = kept == [UInt8](repeating: 0x11, count: 4096)
        #expect(keptSame)
        #expect(reopened.blocksWritten == 1)
        // The byte written after the flush: its block is not in the map, so the base shows.
        #expect(try Self.read(reopened, 0, 1) == [Self.base[0]])
        // A scratch overlay over the same base starts empty.
        let scratch = try BlockOverlay(
            base: directory + "/root.img", baseDigest: "d1", storage: .scratch(directory: directory))
        let fresh = try Self.read(scratch, 4096, 4096)
        let freshSame = fresh == Array(Self.base[4096..<8192])
        #expect(freshSame)
        // Blocks written over one base mean nothing over another.
        #expect(throws: BlockOverlay.OverlayError.self) {
            try BlockOverlay(
                base: directory + "/root.img", baseDigest: "d2", storage: .persistent(path: data))
        }
        // No scratch files left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasPrefix(".vboot-scratch")
        }
        #expect(left.isEmpty)
    }

    @Test func theMapReadsBackAsWritten() {
        let map: [UInt64] = [0, 1, 0x8000_0000_0000_0001, .max]
        let encoded = BlockOverlay.encodeMap(map, digest: "abc")
        #expect(BlockOverlay.parseMap(encoded, digest: "abc", words: 4) == map)
        #expect(BlockOverlay.parseMap(encoded, digest: "abd", words: 4) == nil)
        #expect(BlockOverlay.parseMap(encoded.dropLast(), digest: "abc", words: 4) == nil)
    }

    @Test func aReadOnlyViewHasNoFileAndRefusesWrites() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let overlay = try BlockOverlay(base: directory + "/root.img", baseDigest: "d1", storage: .readOnly)
        #expect(try Self.read(overlay, 100, 10) == Array(Self.base[100..<110]))
        #expect(throws: BlockOverlay.OverlayError.self) {
            try overlay.write(offset: 0, bytes: ByteBuffer(bytes: [1]).readableBytesView)
        }
        try overlay.flush()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["root.img"])
        #expect(NBDConnectionState.errno(for: BlockOverlay.OverlayError("full", errno: ENOSPC)) == .noSpace)
        #expect(NBDConnectionState.errno(for: BlockOverlay.OverlayError("x", errno: EIO)) == .io)
    }
}
