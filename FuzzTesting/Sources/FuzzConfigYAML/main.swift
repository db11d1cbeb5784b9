import FuzzSupport
import Yams

// The YAML layer of `vboot serve --config`: Yams composes the node tree ConfigFile walks, and the
// walk reads mappings, sequences and scalars as ConfigReader does. ConfigFile itself lives in
// VBootServer, whose instrumented build (NIO, Hummingbird, PostgresNIO, SQLite) would not fit
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
        _ = node.string
        _ = node.int
        _ = node.bool
        _ = node.mark
    }
}
