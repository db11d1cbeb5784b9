/// The two ways decoded values become text: times in a story, and strings from the wire.
extension BootTrace {
    /// `12.34`; saturates (a capture's timestamps come from the file, whatever it says).
    public static func seconds(_ value: Double) -> String {
        let bounded = value.isFinite ? min(max(value, -1e12), 1e12) : 0
        let hundredths = Int((abs(bounded) * 100).rounded())
        let fraction = hundredths % 100
        return (bounded < 0 ? "-" : "") + "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// `text` cut to `textLimit` bytes (a hostile client's 1,400-byte file name stays bounded).
    static func clip(_ text: String) -> String {
        text.utf8.count <= textLimit ? text : String(decoding: text.utf8.prefix(textLimit), as: UTF8.self) + "…"
    }
}
