import Firmware
import FuzzSupport

// `vboot rom inject --libvirt DOMAIN.xml`: the domain XML parsed, edited and serialized.
let injections = [
    LibvirtInjection(
        romPath: "/var/lib/vboot/ipxe.rom", ovmfCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    LibvirtInjection(
        romPath: "/r.rom", ovmfCode: "/c.fd", varsTemplate: "/v.fd", nvramPath: "/n.fd",
        interfaces: .macs(["52:54:00:12:34:56"]), bootOrder: 3),
]

fuzz { bytes in
    let xml = String(decoding: bytes, as: UTF8.self)
    for injection in injections {
        guard let edit = try? LibvirtDomain.edit(injection, xml) else { continue }
        _ = edit.changes.map(\.description)
        // What vboot wrote is a domain it can edit again.
        do { _ = try LibvirtDomain.edit(injection, edit.xml) } catch {
            preconditionFailure("the edited domain does not parse again: \(error)")
        }
    }
}
