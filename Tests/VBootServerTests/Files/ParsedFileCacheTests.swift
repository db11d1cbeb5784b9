import Foundation
import Synchronization
import Testing

@testable import VBootServer

@Suite("Parsed file cache")
struct ParsedFileCacheTests {
    final class Counter: Sendable {
        let parses = Atomic<Int>(0)
    }

    static func cache(_ counter: Counter) -> ParsedFileCache<String> {
        ParsedFileCache { _, text in
            counter.parses.add(1, ordering: .relaxed)
            guard !text.contains("broken") else { throw CocoaError(.fileReadCorruptFile) }
            return text.uppercased()
        }
    }

    static func write(_ text: String, to path: String, age: TimeInterval) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: path)
    }

    @Test func parsesOncePerVersionOfTheFile() throws {
        let counter = Counter()
        let cache = Self.cache(counter)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parsed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try cache.value(at: path) == nil)
        try Self.write("echo one", to: path, age: 60)
        for _ in 0..<5 { #expect(try cache.value(at: path) == "ECHO ONE") }
        #expect(counter.parses.load(ordering: .relaxed) == 1)
        // Edited (replaced, as editors do): parsed again.
        try Self.write("echo two", to: path, age: 30)
        #expect(try cache.value(at: path) == "ECHO TWO")
        #expect(counter.parses.load(ordering: .relaxed) == 2)
        // A broken version is reported every time and never kept.
        try Self.write("broken", to: path, age: 20)
        #expect(throws: CocoaError.self) { try cache.value(at: path) }
        #expect(throws: CocoaError.self) { try cache.value(at: path) }
        #expect(counter.parses.load(ordering: .relaxed) == 4)
        try FileManager.default.removeItem(atPath: path)
        #expect(try cache.value(at: path) == nil)
    }

    @Test func aFileChangedJustNowIsParsedEachTime() throws {
        let counter = Counter()
        let cache = Self.cache(counter)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parsed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "echo a".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try cache.value(at: path) == "ECHO A")
        try "echo b".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try cache.value(at: path) == "ECHO B")
        #expect(counter.parses.load(ordering: .relaxed) == 2)
    }
}
