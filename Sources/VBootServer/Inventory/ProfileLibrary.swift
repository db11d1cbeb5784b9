import BootPolicy
import Foundation

/// The profiles in `boot-scripts/profiles/`, read per use so an edited profile takes effect on
/// the next boot. `local` and `shell` have built-in fallbacks: next-boot states must work even
/// where the shipped profiles were not copied.
struct ProfileLibrary: Sendable {
    let directory: String

    static let builtIn: [String: String] = [
        "local": """
        #!ipxe
        #: title Boot from the local disk (built-in)
        echo vboot: booting {{mac}} from its local disk
        iseq ${platform} efi && exit 1 ||
        sanboot --no-describe --drive 0x80
        """,
        "shell": """
        #!ipxe
        #: title iPXE shell (built-in)
        echo vboot: iPXE shell for {{mac}}
        shell
        """,
    ]

    enum LookupError: Error, CustomStringConvertible {
        case invalidName(String)
        case missing(String, directory: String)
        case header(Profile.HeaderError)

        var description: String {
            switch self {
            case .invalidName(let name): "\"\(name)\" is not a profile name"
            case .missing(let name, let directory): "no profile \(name) (\(directory)/\(name).ipxe)"
            case .header(let error): "\(error)"
            }
        }
    }

    func profile(named name: String) throws(LookupError) -> Profile {
        guard Profile.isValidName(name) else { throw .invalidName(name) }
        let source: String
        if let data = FileManager.default.contents(atPath: "\(directory)/\(name).ipxe") {
            source = String(decoding: data, as: UTF8.self)
        } else if let fallback = Self.builtIn[name] {
            source = fallback
        } else {
            throw .missing(name, directory: directory)
        }
        do {
            return try Profile(name: name, source: source)
        } catch {
            throw .header(error)
        }
    }

    /// Every profile on disk plus the built-ins not overridden; unreadable ones with the reason.
    func all() -> (profiles: [Profile], errors: [String]) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var names = Set(files.filter { $0.hasSuffix(".ipxe") }.map { String($0.dropLast(".ipxe".count)) })
        names.formUnion(Self.builtIn.keys)
        var profiles: [Profile] = []
        var errors: [String] = []
        for name in names.sorted() {
            do { profiles.append(try profile(named: name)) } catch { errors.append("\(error)") }
        }
        return (profiles, errors)
    }
}
