import Firmware
import FuzzSupport

// An OVMF VARS file: the firmware volume, its variable store, the boot entries in it. What the
// store writes back must read again.
fuzz { bytes in
    guard var store = try? VariableStore(parsing: bytes) else { return }
    if let order = try? store.bootOrder() {
        for number in order.entries.prefix(64) { _ = try? store.loadOption(number) }
    }
    _ = store.bootNext
    _ = store.unusedBootOptionNumber()
    for variable in store.variables.prefix(8) where variable.name.hasPrefix("Boot") {
        _ = store.delete(name: variable.name, guid: variable.guid)
    }
    if let written = try? store.encoded() {
        do { _ = try VariableStore(parsing: written) } catch {
            preconditionFailure("the store vboot wrote does not read back: \(error)")
        }
    }
}
