import Foundation
import Testing

@testable import VBootStore

@Suite("JSON columns")
struct JSONColumnTests {
    @Test(arguments: [
        [:], ["a": "b"], ["quote": "say \"hi\"", "back\\slash": "c:\\x", "lines": "1\n2\r\t3"],
        ["control": "\u{01}\u{1f}", "unicode": "Grüße ✓ 日本", "empty": "", "slash": "http://x/y"],
    ])
    func encodesWhatJSONDecoderReadsBack(values: [String: String]) throws {
        let text = MachineRow.encode(values)
        #expect(try JSONDecoder().decode([String: String].self, from: Data(text.utf8)) == values)
        #expect(try MachineRow.decode(text, for: "test") == values)
    }

    @Test func keysAreSortedAndNothingIsPadded() {
        #expect(MachineRow.encode(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
    }
}
