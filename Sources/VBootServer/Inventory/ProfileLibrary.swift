import BootPolicy
import Foundation

/// The profiles in `boot-scripts/profiles/`, checked per use so an edited profile takes effect on
/// the next boot (parsed once per version of the file). `local` and `shell` have built-in fallbacks: next-boot states must work even
/// where the shipped profiles were not copied.
struct ProfileLibrary: Sendable {
    /// A profile with its template parsed.
    struct Compiled: Sendable {
        var profile: Profile
        var template: BootScriptTemplate
    }

    let directory: String
    private let files = ParsedFileCache { path, text in
        let name = String(path.split(separator: "/").last?.dropLast(".ipxe".count) ?? "")
        return try ProfileLibrary.compile(name: name, source: text)
    }

    init(directory: String) { self.directory = directory }

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
        case template(BootScriptTemplate.TemplateError)

        var description: String {
            switch self {
            case .invalidName(let name): "\"\(name)\" is not a profile name"
            case .missing(let name, let directory): "no profile \(name) (\(directory)/\(name).ipxe)"
            case .header(let error): "\(error)"
            case .template(let error): "\(error)"
            }
        }
    }

    func profile(named name: String) throws(LookupError) -> Profile { try compiled(named: name).profile }

    func compiled(named name: String) throws(LookupError) -> Compiled {
        guard Profile.isValidName(name) else { throw .invalidName(name) }
        do {
            if let compiled = try files.value(at: "\(directory)/\(name).ipxe") { return compiled }
        } catch let error as LookupError {
            throw error
        } catch {
            throw .missing(name, directory: directory)
        }
        guard let builtIn = Self.compiledBuiltIns[name] else { throw .missing(name, directory: directory) }
        return builtIn
    }

    // The built-ins are ours and parse; a failure here is a bug the unit tests catch.
    private static let compiledBuiltIns = Dictionary(
        uniqueKeysWithValues: builtIn.map { name, source in (name, try! compile(name: name, source: source)) })

    static func compile(name: String, source: String) throws(LookupError) -> Compiled {
        let profile: Profile
        do {
            profile = try Profile(name: name, source: source)
        } catch {
            throw .header(error)
        }
        do {
            return Compiled(
                profile: profile, template: try BootScriptTemplate(source: source, name: "profiles/\(name).ipxe"))
        } catch {
            throw .template(error)
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
