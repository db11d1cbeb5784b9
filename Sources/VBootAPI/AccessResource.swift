/// `GET /access`: what the caller may do. Reads are allowed if it got an answer at all; `write`
/// says whether its bearer token is the API's (a client in a read network gets `false` for any
/// other token, so the console can tell a wrong token from read-only access).
public struct AccessResource: Codable, Hashable, Sendable {
    public var write: Bool
    public init(write: Bool) { self.write = write }
}
