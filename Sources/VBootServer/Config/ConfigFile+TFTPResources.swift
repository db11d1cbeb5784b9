import Yams

extension TFTPResourceLimits {
    /// The config file's keys, one per `vboot serve` flag.
    static let configKeys = [
        "max_tftp_transfers_per_address", "tftp_transfer_lifetime", "tftp_read_ahead_budget", "tftp_shared_copies",
    ]

    /// One of `configKeys` from the file (seconds and MiB, as the flags).
    mutating func read(_ key: String, _ node: Node, _ reader: ConfigReader) throws(ConfigError) {
        switch key {
        case "max_tftp_transfers_per_address":
            maximumTransfersPerAddress = try reader.integer(node, key, in: Self.perAddressRange)
        case "tftp_transfer_lifetime":
            transferLifetime = .seconds(try reader.integer(node, key, in: Self.lifetimeSecondsRange))
        case "tftp_read_ahead_budget": readAheadBudget = try reader.integer(node, key, in: Self.readAheadMiBRange) << 20
        default: sharedFileCopies = try reader.integer(node, key, in: Self.sharedCopiesMiBRange) << 20
        }
    }
}
