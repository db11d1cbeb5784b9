import FuzzSupport
import NIOCore
import TFTP

// A read transfer driven by the fuzzer: 3 bytes of file size, a byte choosing the server's
// limits, the request datagram (16-bit length + bytes), then events until the input ends: an event byte whose low two bits are 0
// fires the timer after (next byte × 100 ms); otherwise a datagram (16-bit length + bytes) from
// the client. Checks what the state machine promises: it only ever sends blocks of the file.
let limits = [
    TFTPServerLimits(), TFTPServerLimits(maximumBlockSize: 1468, maximumWindowSize: 4),
    TFTPServerLimits(maximumBlockSize: 512, maximumWindowSize: 1, maximumTimeoutSeconds: 1),
]

fuzz { bytes in
    var input = FuzzBytes(bytes)
    let fileSize = Int(input.byte()) << 16 | Int(input.uint16())
    let limit = input.pick(limits)
    guard case .readRequest(let request) = try? TFTPPacket(parsing: ByteBuffer(bytes: input.chunk())) else {
        return
    }
    let parameters = TFTPTransferParameters.negotiate(request.options, fileSize: fileSize, limits: limit)
    precondition(parameters.blockSize >= 8 && parameters.blockSize <= limit.maximumBlockSize)
    precondition(parameters.windowSize >= 1 && parameters.windowSize <= limit.maximumWindowSize)
    var transfer = TFTPReadTransfer(fileSize: fileSize, parameters: parameters)
    var now = ContinuousClock.now
    check(transfer.start(now: now), transfer)
    var events = 0
    while !input.isAtEnd, events < 10_000 {
        events += 1
        let event = input.byte()
        if event & 3 == 0 {
            now += .milliseconds(100 * Int(input.byte()))
            check(transfer.timerFired(now: now), transfer)
        } else if let packet = try? TFTPPacket(parsing: ByteBuffer(bytes: input.chunk())) {
            check(transfer.receive(packet, now: now), transfer)
        }
    }
}

func check(_ action: TFTPReadTransfer.Action, _ transfer: TFTPReadTransfer) {
    precondition(transfer.highestAcknowledged <= transfer.highestSent)
    precondition(transfer.highestSent <= transfer.lastBlock)
    guard case .sendBlocks(let blocks) = action else { return }
    precondition(blocks.lowerBound >= 1 && blocks.upperBound <= transfer.lastBlock)
    precondition(blocks.count <= transfer.parameters.windowSize)
    for block in blocks {
        let range = transfer.byteRange(ofBlock: block)
        precondition(range.lowerBound >= 0 && range.upperBound <= transfer.fileSize)
        precondition(range.count == transfer.parameters.blockSize || block == transfer.lastBlock)
    }
}
