/// vboot's release: `vboot --version`, and the Debian package's version (scripts/package reads it
/// from this line).
enum VBootVersion {
    static let current = "0.1.0"
}
