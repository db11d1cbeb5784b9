import Foundation

/// Replaces a file so readers see the old or the new contents, never half of either: write a
/// temporary file beside it, give it the old file's owner, group and mode (VARS files are often
/// 0600 and owned by the user QEMU runs as under libvirt, and root editing one must not take it
/// away from QEMU), rename over it.
enum AtomicFile {
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
            var old = stat()
            if stat(path, &old) == 0 {
                // Only root may give a file away; anyone else can only have written their own file.
                let givenAway = old.st_uid != geteuid() || old.st_gid != getegid()
                if givenAway && chown(temporary.path, old.st_uid, old.st_gid) != 0 && geteuid() == 0 {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path, "errno": errno])
                }
                if chmod(temporary.path, old.st_mode & 0o7777) != 0 {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path, "errno": errno])
                }
            }
            if rename(temporary.path, url.path) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, "errno": errno])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}
