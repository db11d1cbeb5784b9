import Testing

@testable import TFTP

/// What port 69 answers each kind of packet with (RFC 1350 §4, §5).
@Suite("Port 69 intake")
struct TFTPReadRequestTests {
    @Test(arguments: [
        (TFTPPacket.readRequest(TFTPRequest(filename: "ipxe.efi")), nil),
        (.readRequest(TFTPRequest(filename: "ipxe.efi", mode: "NetASCII")), nil),
        (.readRequest(TFTPRequest(filename: "ipxe.efi", mode: "mail")), TFTPErrorCode.illegalOperation),
        (.writeRequest(TFTPRequest(filename: "x")), .accessViolation),
        (.acknowledgement(block: 1), .unknownTransferID),
    ])
    func aPacketIsServedOrAnswered(packet: TFTPPacket, refusal: TFTPErrorCode?) {
        switch packet.readRequest {
        case .success(let request): #expect(refusal == nil && request.filename == "ipxe.efi")
        case .failure(let error): #expect(error.code == refusal)
        }
    }
}
