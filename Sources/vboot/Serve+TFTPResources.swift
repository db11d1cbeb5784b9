import ArgumentParser
import VBootServer

extension Serve {
    /// `--max-tftp-transfers-per-address`, `--tftp-transfer-lifetime`, `--tftp-read-ahead-budget`,
    /// `--tftp-shared-copies`: the config file's ranges (TFTPResourceLimits).
    func applyTFTPResourceFlags(to limits: inout TFTPResourceLimits) throws {
        func checked(_ value: Int, _ flag: String, _ range: ClosedRange<Int>) throws -> Int {
            guard range.contains(value) else {
                throw ValidationError("\(flag) \(value): \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        if let maxTftpTransfersPerAddress {
            limits.maximumTransfersPerAddress = try checked(
                maxTftpTransfersPerAddress, "--max-tftp-transfers-per-address", TFTPResourceLimits.perAddressRange)
        }
        if let tftpTransferLifetime {
            limits.transferLifetime = .seconds(
                try checked(
                    tftpTransferLifetime, "--tftp-transfer-lifetime", TFTPResourceLimits.lifetimeSecondsRange))
        }
        if let tftpReadAheadBudget {
            limits.readAheadBudget =
                try checked(tftpReadAheadBudget, "--tftp-read-ahead-budget", TFTPResourceLimits.readAheadMiBRange)
                << 20
        }
        if let tftpSharedCopies {
            limits.sharedFileCopies =
                try checked(tftpSharedCopies, "--tftp-shared-copies", TFTPResourceLimits.sharedCopiesMiBRange) << 20
        }
    }
}
