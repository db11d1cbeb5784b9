import FuzzSupport
import Yams

// The YAML layer of `vboot serve --config`: Yams composes the node tree ConfigFile walks, and the
// walk reads mappings, sequences and scalars as ConfigReader does: a scalar as its text, tag and
// position, never through Yams' typed accessors (`Node.int` traps on a base-60 integer that
// overflows, e.g. `33333327:3333333333333333`; vboot parses numbers itself, and
// `ConfigFileTests` checks that such a value is refused with its line). ConfigFile itself lives
// in VBootServer, whose instrumented build (NIO, Hummingbird, PostgresNIO, SQLite) would not fit
// scripts/test's budget; its checks on the values are covered by unit tests.
fuzz { bytes in
    guard let root = try? Yams.compose(yaml: String(decoding: bytes, as: UTF8.self)) else { return }
    walk(root, depth: 0)
}

func walk(_ node: Node, depth: Int) {
    guard depth < 64 else { return }
    if let mapping = node.mapping {
        for (key, value) in mapping {
            _ = key.string
            _ = key.mark
            walk(value, depth: depth + 1)
        }
    } else if let sequence = node.sequence {
        for item in sequence { walk(item, depth: depth + 1) }
    } else {
        _ = node.scalar?.string
        _ = node.scalar?.tag
        _ = node.mark
    }
}
