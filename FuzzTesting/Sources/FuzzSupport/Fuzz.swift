import CFuzzerDriver

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The body the current executable fuzzes; set once by `fuzz(_:)` before libFuzzer starts.
nonisolated(unsafe) private var body: ([UInt8]) -> Void = { _ in }

/// libFuzzer calls this per input. SwiftPM gives every executable its own `main`, so libFuzzer's
/// `main` never runs, but its object still references this symbol.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    body(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// Runs libFuzzer with the process's arguments on `input`; never returns. A crash, trap or
/// sanitizer report inside `input` is a finding; thrown-and-caught errors are not.
public func fuzz(_ input: @escaping ([UInt8]) -> Void) -> Never {
    body = input
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}
