import ArgumentParser
import VBootServer

extension Serve {
    /// `--max-tftp-transfers-per-address`, `--tftp-transfer-lifetime`, `--tftp-read-ahead-budget`,
    /// `--tftp-shared-copies`.
    func applyTFTPResourceFlags(to limits: inout TFTPResourceLimits) throws {
        if let maxTftpTransfersPerAddress {
            guard maxTftpTransfersPerAddress > 0 else {
                throw ValidationError("--max-tftp-transfers-per-address must be positive")
            }
            limits.maximumTransfersPerAddress = maxTftpTransfersPerAddress
        }
        if let tftpTransferLifetime {
            guard tftpTransferLifetime > 0 else { throw ValidationError("--tftp-transfer-lifetime must be positive") }
            limits.transferLifetime = .seconds(tftpTransferLifetime)
        }
        if let tftpReadAheadBudget {
            guard tftpReadAheadBudget > 0 else { throw ValidationError("--tftp-read-ahead-budget must be positive") }
            limits.readAheadBudget = tftpReadAheadBudget << 20
        }
        if let tftpSharedCopies {
            guard tftpSharedCopies >= 0 else { throw ValidationError("--tftp-shared-copies must not be negative") }
            limits.sharedFileCopies = tftpSharedCopies << 20
        }
    }
}
