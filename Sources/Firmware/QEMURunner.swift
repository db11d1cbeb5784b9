import Foundation

/// Runs a `QEMUGuest`, mirroring its serial console, stopping at a pattern or a deadline, and
/// falling back from KVM to TCG when KVM cannot run the guest (some hosts fail OVMF with a KVM
/// emulation error).
public struct QEMURunner: Sendable {
    public enum Outcome: Equatable, Sendable {
        case matched(seconds: Double)
        case timedOut
        case exited(status: Int32)
    }

    public var guest: QEMUGuest
    public var serialLog: String
    public var until: String?
    public var timeout: Duration?
    public var mirror: @Sendable (String) -> Void

    public init(
        guest: QEMUGuest, serialLog: String, until: String? = nil, timeout: Duration? = nil,
        mirror: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.guest = guest
        self.serialLog = serialLog
        self.until = until
        self.timeout = timeout
        self.mirror = mirror
    }

    /// Whether this process may open /dev/kvm at all.
    public static var kvmAvailable: Bool {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// What QEMU prints when KVM cannot run the guest.
    static let kvmFailureMarkers = [
        "KVM internal error", "emulation failure", "failed to initialize kvm", "Could not access KVM",
    ]

    public func run(note: @Sendable (String) -> Void = { _ in }) throws -> Outcome {
        var guest = self.guest
        if guest.accelerator == .kvm {
            let (outcome, stderr) = try runOnce(guest)
            if case .exited = outcome, Self.kvmFailureMarkers.contains(where: stderr.contains) {
                let line = stderr.split(separator: "\n").first { line in
                    Self.kvmFailureMarkers.contains(where: line.contains)
                }
                note("KVM cannot run this guest (\(line ?? "")); restarting under TCG")
                guest.accelerator = .tcg
                return try runOnce(guest).outcome
            }
            return outcome
        }
        return try runOnce(guest).outcome
    }

    private func runOnce(_ guest: QEMUGuest) throws -> (outcome: Outcome, stderr: String) {
        var guest = guest
        guest.serial = "file:\(serialLog)"
        guard FileManager.default.createFile(atPath: serialLog, contents: nil) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: serialLog])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["qemu-system-x86_64"] + guest.arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        // QEMU reports a KVM emulation failure on stderr and then sits paused: watch it live.
        let stderrText = LockedText()
        errors.fileHandleForReading.readabilityHandler = { handle in stderrText.append(handle.availableData) }
        try process.run()
        let started = ContinuousClock.now
        // Plain read(2) on the growing log: FileHandle.availableData can block on regular files.
        let reader = open(serialLog, O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: serialLog]) }
        defer { close(reader) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var seen = ""
        var outcome: Outcome = .exited(status: 0)
        while true {
            let count = read(reader, &buffer, buffer.count)
            if count > 0 {
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                mirror(text)
                seen += text
                if seen.count > 1_000_000 { seen = String(seen.suffix(100_000)) }
                if let until, Self.plain(seen).contains(until) {
                    let elapsed = ContinuousClock.now - started
                    outcome = .matched(
                        seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                    Self.stop(process)
                    break
                }
            }
            if !process.isRunning {
                outcome = .exited(status: process.terminationStatus)
                break
            }
            if guest.accelerator == .kvm, Self.kvmFailureMarkers.contains(where: stderrText.value.contains) {
                Self.stop(process)
                process.waitUntilExit()
                outcome = .exited(status: process.terminationStatus)
                break
            }
            if let timeout, ContinuousClock.now - started > timeout {
                outcome = .timedOut
                Self.stop(process)
                break
            }
            if count <= 0 { Thread.sleep(forTimeInterval: 0.2) }
        }
        process.waitUntilExit()
        errors.fileHandleForReading.readabilityHandler = nil
        return (outcome, stderrText.value)
    }

    /// SIGKILL: a child started from Swift's concurrency threads can inherit a signal mask that
    /// blocks SIGTERM, and the guest's state is throwaway anyway (VARS writes are synchronous).
    static func stop(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    final class LockedText: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ data: Data) { lock.withLock { text += String(decoding: data, as: UTF8.self) } }
        var value: String { lock.withLock { text } }
    }

    /// Serial text without terminal escape sequences and carriage returns, for matching.
    static func plain(_ text: String) -> String {
        var out = ""
        var escape = false
        for scalar in text.unicodeScalars {
            if escape {
                if scalar.properties.isAlphabetic { escape = false }
                continue
            }
            if scalar == "\u{1B}" { escape = true; continue }
            if scalar == "\r" { continue }
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}
