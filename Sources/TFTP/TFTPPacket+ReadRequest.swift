extension TFTPPacket {
    /// What a server's port 69 does with this packet: serve a read request, or answer the error
    /// (RFC 1350 §4: a packet for no transfer gets "unknown transfer ID"; this server is
    /// read-only; modes are octet and netascii).
    public var readRequest: Result<TFTPRequest, TFTPError> {
        switch self {
        case .readRequest(let request):
            let mode = request.mode.lowercased()
            guard mode == "octet" || mode == "netascii" else {
                return .failure(TFTPError(.illegalOperation, "transfer mode \(request.mode) is not supported"))
            }
            return .success(request)
        case .writeRequest:
            return .failure(TFTPError(.accessViolation, "vboot serves files read-only"))
        case .data, .acknowledgement, .error, .optionAcknowledgement:
            return .failure(TFTPError(.unknownTransferID, "no transfer on this port"))
        }
    }
}
