import Foundation

/// What `vboot rom inject --libvirt DOMAIN.xml` puts into a libvirt domain: an iPXE ROM on the selected
/// NICs, first in the boot order, under an explicitly chosen OVMF (libvirt formatdomain, "Guest firmware"
/// `<loader>`/`<nvram>`, "Network interfaces" `<rom>`/`<boot>`).
public struct LibvirtInjection: Hashable, Sendable {
    /// Which `<interface>` elements get the ROM.
    public enum InterfaceSelection: Hashable, Sendable {
        case all
        /// By `<mac address>`; case and `-`/`:` separators do not matter. Every MAC must be present.
        case macs([String])
    }

    /// Absolute path of the iPXE ROM, as QEMU will open it (`<rom file>`).
    public var romPath: String
    /// Absolute path of OVMF's CODE image (`<loader type='pflash'>`).
    public var ovmfCode: String
    /// Absolute path of the VARS template libvirt copies when the domain's NVRAM file does not exist.
    public var varsTemplate: String
    /// Absolute path of the domain's own VARS file; nil keeps the domain's current path, or lets libvirt
    /// choose one (`/var/lib/libvirt/qemu/nvram/NAME_VARS.fd`) when it has none.
    public var nvramPath: String?
    public var interfaces: InterfaceSelection
    /// `<boot order>` of the first selected NIC; further selected NICs follow, other devices move behind.
    public var bootOrder: Int

    public init(
        romPath: String, ovmfCode: String, varsTemplate: String, nvramPath: String? = nil,
        interfaces: InterfaceSelection = .all, bootOrder: Int = 1
    ) {
        self.romPath = romPath
        self.ovmfCode = ovmfCode
        self.varsTemplate = varsTemplate
        self.nvramPath = nvramPath
        self.interfaces = interfaces
        self.bootOrder = bootOrder
    }
}

/// Edits a libvirt domain definition so the VM network-boots an iPXE ROM under OVMF. Pure: XML in,
/// XML out; `injectFile` adds reading and an atomic write.
public enum LibvirtDomain {
    /// One thing the edit changed beyond the obvious, for the CLI to report.
    public enum Change: Hashable, Sendable, CustomStringConvertible {
        case romSet(interface: String, previous: String?)
        /// `<rom enabled='no'>` or `bar='off'` was removed: either would keep the ROM from running.
        case romReenabled(interface: String, removed: [String])
        case bootOrder(device: String, from: Int?, to: Int)
        /// `<os><boot dev>` elements removed; libvirt refuses them together with per-device `<boot order>`.
        case osBootRemoved([String])
        /// `<os firmware='…'>` removed: with it, libvirt picks the firmware itself and ignores `<loader>`.
        case firmwareAutoselectionRemoved(String)
        /// `<os><firmware>` feature requirements removed; they only steer autoselection.
        case firmwareFeaturesRemoved
        case loaderSet(previous: String?)
        case nvramSet(template: String, path: String?)

        public var description: String {
            switch self {
            case .romSet(let interface, let previous):
                "\(interface): option ROM set" + (previous.map { " (was \($0))" } ?? "")
            case .romReenabled(let interface, let removed):
                "\(interface): the ROM was disabled (\(removed.joined(separator: ", "))); re-enabled by setting the file"
            case .bootOrder(let device, let from, let to):
                "\(device): boot order \(from.map(String.init) ?? "none") → \(to)"
            case .osBootRemoved(let devices):
                "removed <os><boot dev='\(devices.joined(separator: "'/>, <boot dev='"))'/> "
                    + "(libvirt does not allow it next to per-device boot order)"
            case .firmwareAutoselectionRemoved(let value):
                "removed <os firmware='\(value)'>: firmware autoselection would override the explicit <loader>"
            case .firmwareFeaturesRemoved:
                "removed <os><firmware> feature requirements (they only apply to firmware autoselection)"
            case .loaderSet(let previous):
                "OVMF loader set" + (previous.map { " (was \($0))" } ?? "")
            case .nvramSet(let template, let path):
                "NVRAM template \(template); "
                    + (path.map {
                        "variables in \($0) (libvirt copies the template only if that file does not exist; "
                            + "`virsh start --reset-nvram` recreates it)"
                    }
                        ?? "libvirt chooses the variables file (an existing one is reused; "
                        + "`virsh start --reset-nvram` recreates it)")
            }
        }
    }

    /// The edited document and what changed.
    public struct Edit: Hashable, Sendable {
        public var xml: String
        public var changes: [Change]
    }

    public static func inject(_ injection: LibvirtInjection, into xml: String) throws -> String {
        try edit(injection, xml).xml
    }

    public static func edit(_ injection: LibvirtInjection, _ xml: String) throws(LibvirtDomainError) -> Edit {
        let requestedMACs = try validate(injection)
        var document = try LibvirtXML(parsing: xml)
        guard document.root.name == "domain" else { throw .notADomain(root: document.root.name) }
        var changes: [Change] = []
        var domain = document.root

        guard let osIndex = domain.indices(of: "os").first else { throw .missingElement("os", in: "domain") }
        guard let devicesIndex = domain.indices(of: "devices").first else {
            throw .missingElement("devices", in: "domain")
        }
        try domain.updateChild(at: osIndex) { (os: inout LibvirtXML.Element) throws(LibvirtDomainError) in
            try setFirmware(in: &os, injection, changes: &changes)
        }
        let bootDevices = domain.updateChild(at: osIndex) { removeBootDevices(from: &$0) } ?? []
        if !bootDevices.isEmpty { changes.append(.osBootRemoved(bootDevices)) }
        try domain.updateChild(at: devicesIndex) { (devices: inout LibvirtXML.Element) throws(LibvirtDomainError) in
            let selected = try selectInterfaces(in: devices, requestedMACs)
            try setBootOrders(
                in: &devices, selected: selected, first: injection.bootOrder, converting: bootDevices, changes: &changes
            )
            for index in selected {
                devices.updateChild(at: index) { setROM(in: &$0, injection.romPath, changes: &changes) }
            }
        }
        document.root = domain
        return Edit(xml: document.serialized, changes: changes)
    }

    /// Edits the domain XML file at `path`, writing to `output` (or back to `path`) via a temporary file
    /// and a rename, so libvirt or an editor never sees half a file.
    @discardableResult
    public static func injectFile(_ injection: LibvirtInjection, path: String, output: String? = nil) throws -> Edit {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let xml = String(data: data, encoding: .utf8) else { throw LibvirtDomainError.notUTF8(path: path) }
        let result = try edit(injection, xml)
        try writeAtomically(Data(result.xml.utf8), to: output ?? path)
        return result
    }

    // MARK: - Steps

    /// Checks what libvirt's schema would refuse (`absFilePath`, `positiveInteger`); returns normalized MACs.
    static func validate(_ injection: LibvirtInjection) throws(LibvirtDomainError) -> [String]? {
        let paths = [
            ("ROM path", injection.romPath), ("OVMF code", injection.ovmfCode),
            ("VARS template", injection.varsTemplate), ("NVRAM path", injection.nvramPath),
        ]
        for case (let field, let path?) in paths where !path.hasPrefix("/") || path.count < 2 {
            throw .invalidInjection(
                field: field, detail: "'\(path)' is not an absolute path (QEMU opens it, not vboot)")
        }
        guard injection.bootOrder >= 1 else {
            throw .invalidInjection(field: "boot order", detail: "\(injection.bootOrder) is not a positive integer")
        }
        guard case .macs(let macs) = injection.interfaces else { return nil }
        guard !macs.isEmpty else {
            throw .invalidInjection(field: "interfaces", detail: "an empty MAC list selects nothing")
        }
        return try macs.map { (mac: String) throws(LibvirtDomainError) -> String in
            let normalized = normalize(mac: mac)
            let octets = normalized.split(separator: ":", omittingEmptySubsequences: false)
            guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else {
                throw .invalidInjection(field: "MAC", detail: "'\(mac)' is not a MAC address like 52:54:00:12:34:56")
            }
            return normalized
        }
    }

    static func normalize(mac: String) -> String {
        mac.lowercased().replacingOccurrences(of: "-", with: ":")
    }

    /// Indices (in `<devices>`) of the selected `<interface>` elements, in document order.
    static func selectInterfaces(in devices: LibvirtXML.Element, _ macs: [String]?) throws(LibvirtDomainError) -> [Int]
    {
        let interfaces = devices.indices(of: "interface")
        let found = interfaces.map { devices.child(at: $0)?.firstChild("mac")?.attribute("address") }
        guard let macs else {
            guard !interfaces.isEmpty else { throw .noMatchingInterface(missing: [], found: []) }
            return interfaces
        }
        let normalizedFound = found.map { $0.map(normalize(mac:)) }
        let missing = macs.filter { !normalizedFound.contains($0) }
        guard missing.isEmpty else { throw .noMatchingInterface(missing: missing, found: found) }
        return zip(interfaces, normalizedFound).filter { macs.contains($0.1 ?? "") }.map(\.0)
    }

    /// `<loader>` and `<nvram>` for the given OVMF; drops firmware autoselection, which would win over
    /// them (libvirt issue #327: with `firmware='efi'` a `<loader>` path was silently replaced; #500: since
    /// 9.2.0 the `<nvram template>` is looked up from firmware descriptors instead).
    static func setFirmware(
        in os: inout LibvirtXML.Element, _ injection: LibvirtInjection, changes: inout [Change]
    ) throws(LibvirtDomainError) {
        guard let type = os.firstChild("type") else { throw .missingElement("type", in: "os") }
        let osType = type.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard osType == "hvm" else { throw .notHVM(osType: osType) }
        if let firmware = os.removeAttribute("firmware") { changes.append(.firmwareAutoselectionRemoved(firmware)) }
        if let index = os.indices(of: "firmware").first {
            os.removeChild(at: index)
            changes.append(.firmwareFeaturesRemoved)
        }

        var loader = LibvirtXML.Element(
            "loader", attributes: [("readonly", "yes"), ("type", "pflash")], text: injection.ovmfCode)
        if let index = os.indices(of: "loader").first, let previous = os.child(at: index) {
            // Keep `secure`: it tells libvirt the CODE needs SMM (Secure Boot builds); the domain's owner
            // chose it. Drop `stateless`/`format`, which describe the old image, not OVMF_CODE + VARS.
            if let secure = previous.attribute("secure") { loader.setAttribute("secure", secure) }
            os.replaceChild(at: index, with: loader)
            let previousPath = previous.text.trimmingCharacters(in: .whitespacesAndNewlines)
            changes.append(.loaderSet(previous: previousPath.isEmpty ? nil : previousPath))
        } else {
            os.insertChild(loader, after: os.indices(of: "type").first)
            changes.append(.loaderSet(previous: nil))
        }

        if let index = os.indices(of: "nvram").first, var nvram = os.child(at: index) {
            nvram.setAttribute("template", injection.varsTemplate)
            if let path = injection.nvramPath {
                // A plain path replaces a network/file <source> and its type.
                nvram.removeAttribute("type")
                nvram.setText(path)
            }
            os.replaceChild(at: index, with: nvram)
            let path = injection.nvramPath ?? nvram.text.trimmingCharacters(in: .whitespacesAndNewlines)
            changes.append(.nvramSet(template: injection.varsTemplate, path: path.isEmpty ? nil : path))
        } else {
            let nvram = LibvirtXML.Element(
                "nvram", attributes: [("template", injection.varsTemplate)], text: injection.nvramPath)
            os.insertChild(nvram, after: os.indices(of: "loader").first)
            changes.append(.nvramSet(template: injection.varsTemplate, path: injection.nvramPath))
        }
    }

    /// Removes every `<boot dev>` from `<os>`; returns their values in order. libvirt formatdomain: "The
    /// boot element and per-device boot elements are mutually exclusive."
    static func removeBootDevices(from os: inout LibvirtXML.Element) -> [String] {
        var devices: [String] = []
        for index in os.indices(of: "boot").reversed() {
            guard let dev = os.child(at: index)?.attribute("dev") else { continue }
            devices.insert(dev, at: 0)
            os.removeChild(at: index)
        }
        return devices
    }

    /// Gives the selected NICs `first, first+1, …`; moves other devices' orders behind them (keeping their
    /// relative order, changing as few as possible, never duplicating: libvirt rejects a repeated order);
    /// turns the removed `<os><boot dev>` list into per-device orders after those, so the disk stays a
    /// fallback (OVMF offers only what QEMU's bootorder list names when the list is not empty).
    static func setBootOrders(
        in devices: inout LibvirtXML.Element, selected: [Int], first: Int, converting bootDevices: [String],
        changes: inout [Change]
    ) throws(LibvirtDomainError) {
        var assigned: [Int: Int] = [:]
        for (offset, index) in selected.enumerated() { assigned[index] = first + offset }
        var last = first + selected.count - 1

        var existing: [(index: Int, order: Int)] = []
        for index in devices.elementIndices where !selected.contains(index) {
            guard let device = devices.child(at: index), let boot = device.firstChild("boot"),
                let value = boot.attribute("order")
            else { continue }
            guard let order = Int(value), order >= 1 else {
                throw .invalidBootOrder(device: describe(device), value: value)
            }
            existing.append((index, order))
        }
        for (index, order) in existing.sorted(by: { $0.order < $1.order }) {
            if order < first {
                assigned[index] = order
            } else {
                last = max(order, last + 1)
                assigned[index] = last
            }
        }

        // libvirt marks the first device of each listed kind bootable; for XML written by libvirt (sorted
        // by bus and target) that is the first one in document order.
        for dev in bootDevices {
            let candidate = devices.elementIndices.first { index in
                guard assigned[index] == nil, let device = devices.child(at: index),
                    device.firstChild("boot") == nil
                else { return false }
                switch dev {
                case "hd": return device.name == "disk" && (device.attribute("device") ?? "disk") == "disk"
                case "cdrom": return device.name == "disk" && device.attribute("device") == "cdrom"
                case "fd": return device.name == "disk" && device.attribute("device") == "floppy"
                case "network": return device.name == "interface"
                default: return false
                }
            }
            // `network` may name a selected NIC, which already has its order.
            guard let candidate else { continue }
            last += 1
            assigned[candidate] = last
        }

        for (index, order) in assigned.sorted(by: { $0.key < $1.key }) {
            devices.updateChild(at: index) { device in
                let previous = device.firstChild("boot")?.attribute("order").flatMap { Int($0) }
                guard previous != order else { return }
                if let bootIndex = device.indices(of: "boot").first {
                    device.updateChild(at: bootIndex) { $0.setAttribute("order", String(order)) }
                } else {
                    insertBeforeAddress(
                        LibvirtXML.Element("boot", attributes: [("order", String(order))]), into: &device)
                }
                changes.append(.bootOrder(device: describe(device), from: previous, to: order))
            }
        }
    }

    /// Sets `<rom file>`, removing what would keep the ROM from running: `enabled='no'` (libvirt refuses a
    /// file on a disabled ROM) and `bar='off'` (no ROM BAR, so OVMF never sees the ROM; QEMU would hand
    /// it only to SeaBIOS through fw_cfg).
    static func setROM(in interface: inout LibvirtXML.Element, _ romPath: String, changes: inout [Change]) {
        let name = describe(interface)
        if let index = interface.indices(of: "rom").first, var rom = interface.child(at: index) {
            var removed: [String] = []
            if let enabled = rom.attribute("enabled"), enabled == "no" {
                rom.removeAttribute("enabled")
                removed.append("enabled='no'")
            }
            if rom.attribute("bar") == "off" {
                rom.removeAttribute("bar")
                removed.append("bar='off'")
            }
            let previous = rom.attribute("file")
            rom.setAttribute("file", romPath)
            interface.replaceChild(at: index, with: rom)
            if !removed.isEmpty { changes.append(.romReenabled(interface: name, removed: removed)) }
            changes.append(.romSet(interface: name, previous: previous))
        } else {
            insertBeforeAddress(LibvirtXML.Element("rom", attributes: [("file", romPath)]), into: &interface)
            changes.append(.romSet(interface: name, previous: nil))
        }
    }

    /// Inserts `child` before `<address>` (where libvirt writes `<boot>` and `<rom>`), else at the end.
    static func insertBeforeAddress(_ child: LibvirtXML.Element, into device: inout LibvirtXML.Element) {
        if let address = device.indices(of: "address").first {
            device.insertChild(child, before: address)
        } else {
            device.insertChild(child, after: nil)
        }
    }

    /// "interface 52:54:00:12:34:56", "disk vda", "hostdev".
    static func describe(_ device: LibvirtXML.Element) -> String {
        switch device.name {
        case "interface": "interface " + (device.firstChild("mac")?.attribute("address") ?? "without <mac>")
        case "disk": "disk " + (device.firstChild("target")?.attribute("dev") ?? device.attribute("device") ?? "")
        default: device.name
        }
    }

    /// Domain XML under /etc/libvirt is 0600: `AtomicFile` keeps the mode.
    static func writeAtomically(_ data: Data, to path: String) throws {
        try AtomicFile.write(data, to: path)
    }
}
