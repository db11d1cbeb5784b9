import DHCPv4
import FuzzSupport
import WireTrace

// Frames of a capture fed to the trace: a byte choosing the link type, then until the input ends
// a byte of time step (× 100 ms; 255: an arbitrary time from the next 4 bytes) and a frame (16-bit
// length + bytes). Checks what the trace
// promises: every frame is counted once, decoded or skipped, and every story can be judged. The
// same frames go to `vboot serve --capture`'s WireWatch: vboot's own answers are never news.
let linkTypes: [LinkType] = [.ethernet, .linuxCooked, .linuxCooked2, .raw, LinkType(rawValue: 0)]

fuzz { bytes in
    var input = FuzzBytes(bytes)
    let linkType = input.pick(linkTypes)
    var trace = BootTrace(httpPorts: [80, 8080])
    let vboot = IPv4Address("10.77.0.2")!
    var watch = WireWatch(ownAddresses: [vboot])
    var time = 1_000.0
    var frames = 0
    while !input.isAtEnd, frames < 5_000 {
        // A step of 0 to 25.4 s; 255 jumps anywhere (a doctored pcapng's timestamps).
        let step = input.byte()
        time = step == 255 ? Double(bitPattern: UInt64(input.uint16()) << 48 | UInt64(input.uint16())) : time + Double(step) / 10
        let frame = input.chunk()
        frame.withUnsafeBytes { _ = trace.ingest($0, linkType: linkType, at: time) }
        if let sighting = frame.withUnsafeBytes({ watch.ingest($0, linkType: linkType, at: time) }) {
            precondition(sighting.server != vboot)
            _ = sighting.summary
        }
        frames += 1
    }
    precondition(trace.frames == frames)
    precondition(trace.decoded + trace.skipped.values.reduce(0, +) <= frames)
    let report = TraceReport(trace, context: VerdictContext(vboot: ["10.77.0.2"], end: time + 30))
    precondition(report.stories.allSatisfy { $0.verdict != nil })
    _ = report.text
}
