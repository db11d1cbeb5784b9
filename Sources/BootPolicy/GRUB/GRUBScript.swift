/// Writes GRUB configuration lines from values that may hold anything. Every word is single
/// quoted (GRUB's quoting is the shell's: inside single quotes nothing is special, a quote is
/// closed, escaped and reopened), so no value can end a command, start another, or expand a
/// variable.
public enum GRUBScript {
    public static func quoted(_ word: String) -> String {
        "'" + word.replacing("'", with: "'\\''") + "'"
    }

    /// A command and its arguments, each argument quoted.
    public static func command(_ name: String, _ arguments: [String]) -> String {
        ([name] + arguments.map(quoted)).joined(separator: " ")
    }

    /// The words of a rendered command line: split at whitespace (a newline in a value cannot
    /// reach GRUB as one), control characters dropped.
    public static func words(_ text: String) -> [String] {
        text.split(whereSeparator: \.isWhitespace).map { word in
            String(String.UnicodeScalarView(word.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
        }.filter { !$0.isEmpty }
    }
}
