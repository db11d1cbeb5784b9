import BootPolicy
import Foundation

/// The profiles in `boot-scripts/profiles/`: iPXE scripts (`NAME.ipxe`) and declarative ones
/// (`NAME.profile`), checked per use so an edited profile takes effect on the next boot (parsed
/// once per version of the file). `local` and `shell` have built-in fallbacks: next-boot states
/// must work even where the shipped profiles were not copied.
struct ProfileLibrary: Sendable {
    /// A profile with its templates parsed.
    struct Compiled: Sendable {
        enum Body: Sendable {
            case script(BootScriptTemplate)
            case declared(DeclaredBoot)
        }

        var profile: Profile
        var body: Body

        func ipxeScript(_ context: BootScriptContext) -> String {
            switch body {
            case .script(let template): template.render(context)
            case .declared(let boot): boot.ipxeScript(context)
            }
        }

        /// A script profile has nothing GRUB can run: refused with what to write instead.
        func grubConfig(_ context: BootScriptContext) -> Result<String, DeclaredBoot.GRUBRefusal> {
            switch body {
            case .declared(let boot):
                return boot.grubConfig(context)
            case .script:
                let name = profile.name
                return .failure(
                    DeclaredBoot.GRUBRefusal(
                        description:
                            "profile \(name) is an iPXE script (\(name)\(Profile.scriptExtension)); a machine booting through GRUB (loader grub, Secure Boot) needs a declarative profile (\(name)\(Profile.declarativeExtension))"
                    ))
            }
        }
    }

    let directory: String
    private let files = ParsedFileCache { path, text in
        let file = String(path.split(separator: "/").last ?? "")
        let declarative = file.hasSuffix(Profile.declarativeExtension)
        let name = String(file.dropLast((declarative ? Profile.declarativeExtension : Profile.scriptExtension).count))
        return try ProfileLibrary.compile(name: name, source: text, declarative: declarative)
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
        case ambiguous(String, directory: String)
        case header(Profile.HeaderError)
        case template(BootScriptTemplate.TemplateError)

        var description: String {
            switch self {
            case .invalidName(let name): "\"\(name)\" is not a profile name"
            case .missing(let name, let directory):
                "no profile \(name) (\(directory)/\(name)\(Profile.scriptExtension) or \(name)\(Profile.declarativeExtension))"
            case .ambiguous(let name, let directory):
                "profile \(name) is both \(directory)/\(name)\(Profile.scriptExtension) and \(name)\(Profile.declarativeExtension): remove one"
            case .header(let error): "\(error)"
            case .template(let error): "\(error)"
            }
        }
    }

    func profile(named name: String) throws(LookupError) -> Profile { try compiled(named: name).profile }

    func compiled(named name: String) throws(LookupError) -> Compiled {
        guard Profile.isValidName(name) else { throw .invalidName(name) }
        var found: [Compiled] = []
        for fileExtension in [Profile.declarativeExtension, Profile.scriptExtension] {
            do {
                if let compiled = try files.value(at: "\(directory)/\(name)\(fileExtension)") { found.append(compiled) }
            } catch let error as LookupError {
                throw error
            } catch {
                throw .missing(name, directory: directory)
            }
        }
        if found.count > 1 { throw .ambiguous(name, directory: directory) }
        if let compiled = found.first { return compiled }
        guard let builtIn = Self.compiledBuiltIns[name] else { throw .missing(name, directory: directory) }
        return builtIn
    }

    // The built-ins are ours and parse; a failure here is a bug the unit tests catch.
    private static let compiledBuiltIns = Dictionary(
        uniqueKeysWithValues: builtIn.map { name, source in (name, try! compile(name: name, source: source)) })

    static func compile(name: String, source: String, declarative: Bool = false) throws(LookupError) -> Compiled {
        let profile: Profile
        do {
            profile = try Profile(name: name, source: source, declarative: declarative)
        } catch {
            throw .header(error)
        }
        do {
            if let declaration = profile.declaration {
                return Compiled(
                    profile: profile,
                    body: .declared(try DeclaredBoot(name: name, title: profile.title, declaration: declaration)))
            }
            return Compiled(
                profile: profile,
                body: .script(
                    try BootScriptTemplate(source: source, name: "profiles/\(name)\(Profile.scriptExtension)")))
        } catch {
            throw .template(error)
        }
    }

    /// `#: upstream` (and `#: checksums`) lines of every profile on disk: name → the distinct
    /// declarations of it. Profiles that agree on the URL agree, when only some of them name a
    /// checksum list: it is the upstream's.
    func declaredUpstreams() -> [String: [Profile.UpstreamDeclaration]] {
        var declared: [String: [Profile.UpstreamDeclaration]] = [:]
        for profile in all().profiles {
            for upstream in profile.upstreams {
                var known = declared[upstream.name, default: []]
                if let same = known.firstIndex(where: {
                    $0.url == upstream.url
                        && ($0.checksums == nil || upstream.checksums == nil || $0.checksums == upstream.checksums)
                }) {
                    known[same].checksums = known[same].checksums ?? upstream.checksums
                } else {
                    known.append(upstream)
                }
                declared[upstream.name] = known
            }
        }
        return declared
    }

    /// Every profile on disk plus the built-ins not overridden; unreadable ones with the reason.
    func all() -> (profiles: [Profile], errors: [String]) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var names = Set<String>()
        for fileExtension in [Profile.scriptExtension, Profile.declarativeExtension] {
            names.formUnion(
                files.filter { $0.hasSuffix(fileExtension) }.map { String($0.dropLast(fileExtension.count)) })
        }
        names.formUnion(Self.builtIn.keys)
        var profiles: [Profile] = []
        var errors: [String] = []
        for name in names.sorted() {
            do { profiles.append(try profile(named: name)) } catch { errors.append("\(error)") }
        }
        return (profiles, errors)
    }
}
