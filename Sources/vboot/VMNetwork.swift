import ArgumentParser
import Firmware

/// `--netdev` for `rom inject --qemu` and `vm run`.
enum VMNetwork {
    static func parse(_ text: String) throws -> QEMUGuest.Network {
        if text == "user" { return .user }
        if text.hasPrefix("tap:"), text.count > 4 { return .tap(String(text.dropFirst(4))) }
        if text.hasPrefix("bridge:"), text.count > 7 { return .bridge(String(text.dropFirst(7))) }
        throw ValidationError("--netdev \(text): expected user, tap:NAME or bridge:NAME")
    }
}
