import DHCPv4
import Foundation
import NIOCore

/// Golden packets live with the codec tests (`Tests/DHCPv4Tests/Fixtures`, see its README).
enum Fixture {
    static func bytes(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../DHCPv4Tests/Fixtures/\(name)").standardizedFileURL
        return [UInt8](try Data(contentsOf: url))
    }

    static func message(_ name: String) throws -> DHCPMessage {
        try DHCPMessage(parsing: ByteBuffer(bytes: bytes(name)))
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes) ?? [] }
}
