import Foundation

/// curl as the real client: it sends the `Host` a test names and speaks TLS with a CA file.
struct Curl {
    var exitCode: Int32
    var status: Int
    var body: String

    /// `curl -s ARGS URL`; the status comes from `-w`, after the body. It waits for curl on a
    /// thread of its own: blocking one of the 2 cooperative threads of this 2-core machine left
    /// the server under test too few to answer, and curl timed out after 30 s.
    static func run(_ arguments: [String]) async throws -> Curl {
        try await HTTPServiceTests.offThePool { try runBlocking(arguments) }
    }

    private static func runBlocking(_ arguments: [String]) throws -> Curl {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-m", "30", "-w", "\n%{http_code}"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let split = text.lastIndex(of: "\n").map { (String(text[..<$0]), Int(text[text.index(after: $0)...]) ?? 0) }
        return Curl(exitCode: process.terminationStatus, status: split?.1 ?? 0, body: split?.0 ?? text)
    }
}

/// Runs a tool (openssl) and fails the test with its output when it fails.
func runTool(_ path: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailed(
            description: "\(path) \(arguments.joined(separator: " ")): \(String(decoding: data, as: UTF8.self))")
    }
}

struct ToolFailed: Error, CustomStringConvertible { var description: String }
