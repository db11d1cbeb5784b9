/// Why a libvirt domain definition could not be edited for `vboot rom inject --libvirt`.
public enum LibvirtDomainError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The document is not well-formed XML; `line` and `column` (1-based, column in bytes) point at the problem.
    case malformedXML(line: Int, column: Int, detail: String)
    /// The root element is `root`, not `<domain>`.
    case notADomain(root: String)
    /// A required element is missing, e.g. `<devices>` in `<domain>`.
    case missingElement(String, in: String)
    /// `<os><type>` names something other than `hvm`; OVMF only runs fully virtualized guests.
    case notHVM(osType: String)
    /// The selection matched no `<interface>`, or some requested MACs are absent; `found` lists the
    /// domain's interfaces by MAC (nil for an interface without `<mac>`).
    case noMatchingInterface(missing: [String], found: [String?])
    /// A value of the injection that libvirt would refuse.
    case invalidInjection(field: String, detail: String)
    /// A device's existing `<boot order>` is not a positive integer.
    case invalidBootOrder(device: String, value: String)
    /// The file is not UTF-8 text.
    case notUTF8(path: String)

    public var description: String {
        switch self {
        case .malformedXML(let line, let column, let detail):
            "not well-formed XML at line \(line), column \(column): \(detail)"
        case .notADomain(let root):
            "not a libvirt domain definition: the root element is <\(root)>, expected <domain>"
        case .missingElement(let element, let parent):
            "the domain has no <\(element)> in <\(parent)>"
        case .notHVM(let osType):
            "<os><type> is '\(osType)', but OVMF needs a fully virtualized guest (<type>hvm</type>)"
        case .noMatchingInterface(let missing, let found):
            "\(Self.describe(missing: missing)); the domain's interfaces: \(Self.describe(found: found))"
        case .invalidInjection(let field, let detail):
            "\(field): \(detail)"
        case .invalidBootOrder(let device, let value):
            "\(device) has <boot order='\(value)'>, which is not a positive integer"
        case .notUTF8(let path):
            "\(path) is not UTF-8 text"
        }
    }

    private static func describe(missing: [String]) -> String {
        missing.isEmpty
            ? "no <interface> to inject into"
            : "no <interface> with MAC \(missing.joined(separator: ", "))"
    }

    private static func describe(found: [String?]) -> String {
        found.isEmpty ? "none" : found.map { $0 ?? "(no <mac>)" }.joined(separator: ", ")
    }
}
