import TFTP
import Testing

struct NegotiationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var requested: [TFTPOption]
    var fileSize: Int = 1_000_000
    var limits = TFTPServerLimits()
    var blockSize = 512
    var windowSize = 1
    var timeout: Duration = .seconds(1)
    var acknowledged: [TFTPOption]
    var testDescription: String { name }
}

@Suite("TFTP option negotiation")
struct TFTPNegotiationTests {
    static let cases: [NegotiationCase] = [
        .init(name: "no options: no OACK", requested: [], acknowledged: []),
        .init(
            name: "blksize accepted", requested: [TFTPOption("blksize", "1468")],
            blockSize: 1468, acknowledged: [TFTPOption("blksize", "1468")]),
        .init(
            name: "blksize lower bound 8 accepted", requested: [TFTPOption("blksize", "8")],
            blockSize: 8, acknowledged: [TFTPOption("blksize", "8")]),
        .init(name: "blksize below 8 ignored", requested: [TFTPOption("blksize", "7")], acknowledged: []),
        .init(name: "blksize 0 ignored", requested: [TFTPOption("blksize", "0")], acknowledged: []),
        .init(name: "blksize negative ignored", requested: [TFTPOption("blksize", "-512")], acknowledged: []),
        .init(name: "blksize not a number ignored", requested: [TFTPOption("blksize", "big")], acknowledged: []),
        .init(
            name: "blksize past RFC maximum clamped", requested: [TFTPOption("blksize", "65535")],
            blockSize: 65464, acknowledged: [TFTPOption("blksize", "65464")]),
        .init(
            name: "blksize past site maximum clamped", requested: [TFTPOption("blksize", "8192")],
            limits: TFTPServerLimits(maximumBlockSize: 1432),
            blockSize: 1432, acknowledged: [TFTPOption("blksize", "1432")]),
        .init(
            name: "tsize answered with the file size", requested: [TFTPOption("tsize", "0")], fileSize: 31_337,
            acknowledged: [TFTPOption("tsize", "31337")]),
        .init(
            name: "tsize of an empty file", requested: [TFTPOption("tsize", "0")], fileSize: 0,
            acknowledged: [TFTPOption("tsize", "0")]),
        .init(name: "tsize negative ignored", requested: [TFTPOption("tsize", "-1")], acknowledged: []),
        .init(
            name: "timeout 1", requested: [TFTPOption("timeout", "1")],
            timeout: .seconds(1), acknowledged: [TFTPOption("timeout", "1")]),
        .init(
            name: "timeout 5", requested: [TFTPOption("timeout", "5")],
            timeout: .seconds(5), acknowledged: [TFTPOption("timeout", "5")]),
        .init(
            name: "timeout at the server maximum", requested: [TFTPOption("timeout", "10")],
            timeout: .seconds(10), acknowledged: [TFTPOption("timeout", "10")]),
        // A silent peer asking for 255 s would hold a transfer slot for its retries x 255 s
        // (about half an hour); RFC 2349 lets the server leave the option out.
        .init(
            name: "timeout 255 past the server maximum ignored", requested: [TFTPOption("timeout", "255")],
            acknowledged: []),
        .init(
            name: "timeout past a site maximum ignored", requested: [TFTPOption("timeout", "5")],
            limits: TFTPServerLimits(maximumTimeoutSeconds: 3), acknowledged: []),
        .init(name: "timeout 0 ignored", requested: [TFTPOption("timeout", "0")], acknowledged: []),
        .init(name: "timeout 256 ignored", requested: [TFTPOption("timeout", "256")], acknowledged: []),
        .init(
            name: "timeout default from limits", requested: [TFTPOption("timeout", "0")],
            limits: TFTPServerLimits(defaultTimeout: .milliseconds(750)), timeout: .milliseconds(750), acknowledged: []),
        .init(
            name: "windowsize accepted", requested: [TFTPOption("windowsize", "4")],
            windowSize: 4, acknowledged: [TFTPOption("windowsize", "4")]),
        .init(
            name: "windowsize clamped to server maximum", requested: [TFTPOption("windowsize", "65535")],
            windowSize: 64, acknowledged: [TFTPOption("windowsize", "64")]),
        .init(
            name: "windowsize clamped to site maximum", requested: [TFTPOption("windowsize", "32")],
            limits: TFTPServerLimits(maximumWindowSize: 8), windowSize: 8, acknowledged: [TFTPOption("windowsize", "8")]
        ),
        .init(name: "windowsize 0 ignored", requested: [TFTPOption("windowsize", "0")], acknowledged: []),
        .init(name: "windowsize past 65535 ignored", requested: [TFTPOption("windowsize", "65536")], acknowledged: []),
        .init(
            name: "unknown options ignored",
            requested: [
                TFTPOption("multicast", ""), TFTPOption("rollover", "0"), TFTPOption("utimeout", "500000"),
            ], acknowledged: []),
        .init(
            name: "names match case-insensitively, reply uses the client's spelling",
            requested: [
                TFTPOption("BLKSIZE", "1024"), TFTPOption("TSize", "0"), TFTPOption("WindowSize", "2"),
            ], fileSize: 99, blockSize: 1024, windowSize: 2,
            acknowledged: [
                TFTPOption("BLKSIZE", "1024"), TFTPOption("TSize", "99"), TFTPOption("WindowSize", "2"),
            ]),
        .init(
            name: "duplicates: the first wins",
            requested: [
                TFTPOption("blksize", "1024"), TFTPOption("BlkSize", "2048"), TFTPOption("blksize", "4096"),
            ], blockSize: 1024, acknowledged: [TFTPOption("blksize", "1024")]),
        .init(
            name: "OACK keeps the request's order, skipping what it drops",
            requested: [
                TFTPOption("tsize", "0"), TFTPOption("multicast", ""), TFTPOption("windowsize", "4"),
                TFTPOption("blksize", "1468"), TFTPOption("timeout", "3"),
            ], fileSize: 4096, blockSize: 1468, windowSize: 4, timeout: .seconds(3),
            acknowledged: [
                TFTPOption("tsize", "4096"), TFTPOption("windowsize", "4"), TFTPOption("blksize", "1468"),
                TFTPOption("timeout", "3"),
            ]),
    ]

    @Test("negotiate", arguments: cases)
    func negotiate(_ row: NegotiationCase) {
        let parameters = TFTPTransferParameters.negotiate(row.requested, fileSize: row.fileSize, limits: row.limits)
        #expect(parameters.blockSize == row.blockSize)
        #expect(parameters.windowSize == row.windowSize)
        #expect(parameters.timeout == row.timeout)
        #expect(parameters.acknowledgedOptions == row.acknowledged)
    }

    @Test("Server limits default to the RFC maximum block size and a 64-block window")
    func defaultLimits() {
        let limits = TFTPServerLimits()
        #expect(limits.maximumBlockSize == 65464)
        #expect(limits.maximumWindowSize == 64)
        #expect(limits.defaultTimeout == .seconds(1))
        #expect(TFTPTransferParameters.blockSizeRange == 8...65464)
        #expect(TFTPTransferParameters.timeoutRange == 1...255)
        #expect(TFTPTransferParameters.windowSizeRange == 1...65535)
    }
}
