import Foundation

/// The QEMU arguments for an OVMF guest that network-boots a given ROM (`vboot rom inject --qemu`,
/// `vboot vm run`). A value: tests read it, the CLI prints or runs it.
public struct QEMUGuest: Sendable, Hashable {
    public enum Network: Sendable, Hashable {
        /// QEMU's user-mode network (no root, no tap): `-netdev user`.
        case user
        /// An existing tap device.
        case tap(String)
        /// A tap QEMU's bridge helper attaches to this bridge.
        case bridge(String)
    }

    public enum Accelerator: String, Sendable, Hashable, CaseIterable {
        case kvm, tcg
    }

    /// QEMU's `-device` names for the NICs vboot builds ROMs for.
    public static let nicDevices = [
        "virtio-net": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
    ]

    public var ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    /// The per-VM copy of the variable store (pflash unit 1).
    public var vars: String
    public var rom: String?
    public var romSize: Int?
    public var nic = "virtio-net"
    public var mac = "52:54:00:12:34:56"
    public var network: Network = .user
    public var memoryMiB = 1024
    public var accelerator: Accelerator = .tcg
    /// NIC first in the boot order (OVMF ignores `-boot n`).
    public var bootIndex: Int? = 1
    public var serial = "stdio"

    public init(vars: String) { self.vars = vars }

    /// QEMU maps option ROMs into a power-of-two BAR.
    public static func romBAR(for size: Int) -> Int {
        var bar = 2048
        while bar < size { bar *= 2 }
        return bar
    }

    /// A value inside a QEMU option list: a comma doubled is a literal comma, so a path or name
    /// with one cannot end the value and add options of its own.
    static func optionValue(_ value: String) -> String { value.replacingOccurrences(of: ",", with: ",,") }

    public var arguments: [String] {
        let value = Self.optionValue
        var device = "\(value(Self.nicDevices[nic] ?? nic)),netdev=net0,mac=\(value(mac))"
        if let rom {
            // An empty romfile= means no option ROM: OVMF's own network stack boots.
            device += ",romfile=\(value(rom))"
            if let romSize { device += ",romsize=\(Self.romBAR(for: romSize))" }
        }
        if let bootIndex { device += ",bootindex=\(bootIndex)" }
        let netdev: String =
            switch network {
            case .user: "user,id=net0"
            case .tap(let name): "tap,id=net0,ifname=\(value(name)),script=no,downscript=no"
            case .bridge(let name): "bridge,id=net0,br=\(value(name))"
            }
        return [
            "-machine", "q35,accel=\(accelerator.rawValue)", "-m", String(memoryMiB), "-smp", "1",
            "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(value(ovmfCode))",
            "-drive", "if=pflash,format=raw,unit=1,file=\(value(vars))",
            "-netdev", netdev, "-device", device,
            "-display", "none", "-serial", serial, "-monitor", "none",
        ]
    }

    /// The arguments as one shell-safe line.
    public var commandLine: String {
        (["qemu-system-x86_64"] + arguments).map(Self.quoted).joined(separator: " ")
    }

    static func quoted(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_=,./:@+".contains($0) }
        return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
