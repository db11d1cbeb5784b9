import DHCPv4

/// A machine in the inventory. The MAC is its primary key; UUID, serial and hostname are
/// further selectors (a machine whose NIC was swapped is still found by its SMBIOS UUID).
public struct Machine: Hashable, Sendable {
    public var mac: HardwareAddress
    /// SMBIOS system UUID as iPXE prints `${uuid}` (lower-case, hyphenated).
    public var uuid: String?
    public var serial: String?
    public var hostname: String?
    /// A template in `boot-scripts/profiles/`; nil = the per-MAC script file, else the default.
    public var profile: String?
    /// Free values for the profile template: kernel arguments, installer URLs, anything.
    public var variables: [String: String]
    public var nextBoot: NextBoot
    /// How a `once` install counts as finished; see `OneShot`.
    public var onceCompletion: OnceCompletion
    /// Script fetches that handed out the profile since the machine entered `once`.
    public var onceFetches: Int
    /// A per-install secret in the callback URL rendered into the profile: only the installer
    /// that got this install can finish it without the API token.
    public var onceToken: String?
    /// Per-machine override of the firmware family's proxy strategy.
    public var proxyStrategy: ProxyStrategy?
    /// What the machine loads first (GRUB for Secure Boot); nil = the site's `loader`.
    public var loader: BootLoader?
    /// Reserved IPv4 address under `--dhcp full`.
    public var address: IPv4Address?
    /// Microseconds since 1970; the store sets them.
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        mac: HardwareAddress, uuid: String? = nil, serial: String? = nil, hostname: String? = nil,
        profile: String? = nil, variables: [String: String] = [:], nextBoot: NextBoot = .profile,
        onceCompletion: OnceCompletion = .callback, onceFetches: Int = 0, onceToken: String? = nil,
        proxyStrategy: ProxyStrategy? = nil, loader: BootLoader? = nil, address: IPv4Address? = nil,
        createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.mac = mac
        self.uuid = uuid
        self.serial = serial
        self.hostname = hostname
        self.profile = profile
        self.variables = variables
        self.nextBoot = nextBoot
        self.onceCompletion = onceCompletion
        self.onceFetches = onceFetches
        self.onceToken = onceToken
        self.proxyStrategy = proxyStrategy
        self.loader = loader
        self.address = address
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What the machine's next network boot does.
public enum NextBoot: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Boot the profile every time.
    case profile
    /// Boot the profile once (an install), then `local`.
    case once
    /// Boot the local disk (iPXE `exit` on UEFI, `sanboot` on BIOS).
    case local
    /// An iPXE shell.
    case shell
    /// No answer at all: no proxy offer, no script.
    case hold

    public var description: String { rawValue }
}

/// When a `once` machine's install counts as done.
public enum OnceCompletion: Hashable, Sendable, CustomStringConvertible {
    /// The installer calls `/api/v1/machines/<mac>/done`; until then the machine boots locally
    /// (never a second install).
    case callback
    /// After this many script fetches that handed out the profile (for installers that fetch
    /// the script more than once and cannot call back).
    case fetches(Int)

    public var description: String {
        switch self {
        case .callback: "callback"
        case .fetches(let count): "fetches:\(count)"
        }
    }

    /// Parses `callback` or `fetches:N` (N ≥ 1).
    public init?(_ text: String) {
        if text == "callback" {
            self = .callback
        } else if text.hasPrefix("fetches:"), let count = Int(text.dropFirst("fetches:".count)), count >= 1 {
            self = .fetches(count)
        } else {
            return nil
        }
    }
}

/// How a request names a machine; the store tries MAC, then UUID, serial and hostname.
public struct MachineSelector: Hashable, Sendable, CustomStringConvertible {
    public var mac: HardwareAddress?
    public var uuid: String?
    public var serial: String?
    public var hostname: String?

    public init(mac: HardwareAddress? = nil, uuid: String? = nil, serial: String? = nil, hostname: String? = nil) {
        self.mac = mac
        self.uuid = uuid.flatMap(Self.meaningful)?.lowercased()
        self.serial = serial.flatMap(Self.meaningful)
        self.hostname = hostname.flatMap(Self.meaningful)?.lowercased()
    }

    public var isEmpty: Bool { mac == nil && uuid == nil && serial == nil && hostname == nil }

    public var description: String {
        [
            mac.map { "mac \($0)" }, uuid.map { "uuid \($0)" }, serial.map { "serial \($0)" },
            hostname.map { "hostname \($0)" },
        ]
        .compactMap { $0 }.joined(separator: ", ")
    }

    /// Firmware fills unset SMBIOS strings with placeholders; they identify nothing.
    static func meaningful(_ value: String) -> String? {
        let trimmed = value.trimmingWhitespace()
        let placeholders: Set<String> = [
            "", "0", "none", "n/a", "na", "default string", "to be filled by o.e.m.", "not specified",
            "system serial number", "0123456789", "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ]
        return placeholders.contains(trimmed.lowercased()) ? nil : trimmed
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}

/// What the proxyDHCP decision needs from the inventory, kept in memory per MAC.
public struct MachineBootHint: Hashable, Sendable {
    public var nextBoot: NextBoot
    public var proxyStrategy: ProxyStrategy?
    public var loader: BootLoader?

    public init(nextBoot: NextBoot, proxyStrategy: ProxyStrategy? = nil, loader: BootLoader? = nil) {
        self.nextBoot = nextBoot
        self.proxyStrategy = proxyStrategy
        self.loader = loader
    }

    public init(_ machine: Machine) {
        self.init(nextBoot: machine.nextBoot, proxyStrategy: machine.proxyStrategy, loader: machine.loader)
    }
}
