import BootPolicy
import Foundation
import Logging
import NIOCore

/// Where the engine's transfer reports go: the counters, one log line and the machine's
/// timeline, as the report (`BootPolicy`) describes them. The engine only moves bytes.
struct TFTPTransferLog: Sendable {
    var counters: ServerCounters
    var logger: Logger
    var recorder: BootEventRecorder
    var notices: LimitNotices

    func record(_ report: TFTPTransferReport, client: SocketAddress) {
        // Built only when a line is printed (a size probe's is debug).
        func line() -> String { "tftp: \(client.compact) \(report.file): \(report.what)" }
        switch report.end {
        case .completed:
            counters.increment(.tftpTransfersCompleted)
            counters.increment(.tftpBytesSent, by: report.fileSize)
            logger.info(
                "\(line()) in \(String(format: "%.3f", report.seconds)) s (\(report.optionSummary))")
        case .sizeProbe:
            counters.increment(.tftpSizeProbes)
            logger.debug("\(line())")
        case .clientEnded:
            counters.increment(.tftpTransfersFailed)
            logger.warning("\(line())")
        case .aborted(let error, let expired):
            counters.increment(.tftpTransfersFailed)
            if expired {
                counters.increment(.tftpTransfersExpired)
                notices.hit(
                    "lifetime", logger: logger,
                    "tftp: \(client.compact) \(report.file): \(error.message) (--tftp-transfer-lifetime); ended")
            }
            logger.warning("\(line())")
        }
        recorder.record(
            .tftp, report.outcome, address: client.ipv4, summary: report.summary, details: report.details)
    }
}
