import Foundation

/// The API's wire contract (`/api/v1`): the request and response bodies as `Codable` values,
/// shared by the server's routes, `vboot machines` and the OpenAPI document's test. Fields are
/// wire types (text, numbers); the server checks and converts them.
public enum APIContract {
    public static let prefix = "/api/v1"

    /// How every body is written: keys sorted, slashes as they are, one line.
    public static func encode(_ value: some Encodable, pretty: Bool = false) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        // Every contract type encodes without throwing (text, numbers, maps of text).
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// A request or response body, or the reason it is not one (named by field where it can be).
    public static func decode<T: Decodable>(_ type: T.Type, from body: Data) throws(APIContractError) -> T {
        guard !body.isEmpty else { throw APIContractError("the request body is empty; expected a JSON object") }
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch let error as APIContractError {
            throw error
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey]
            throw APIContractError("malformed JSON: \(underlying ?? context.debugDescription)")
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw APIContractError("expected a JSON object")
        } catch DecodingError.valueNotFound(_, let context) where context.codingPath.isEmpty {
            throw APIContractError("expected a JSON object")
        } catch DecodingError.typeMismatch(let expected, let context), DecodingError.valueNotFound(
            let expected, let context)
        {
            throw APIContractError("\(path(context.codingPath)): expected \(expected)")
        } catch DecodingError.keyNotFound(let key, let context) {
            throw APIContractError("\(path(context.codingPath + [key])): required")
        } catch {
            throw APIContractError("\(error)")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
}

/// Why a body does not fit the contract; the API answers it as a 400.
public struct APIContractError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Every refusal's body: `{"error": "..."}`.
public struct APIErrorBody: Codable, Hashable, Sendable {
    public var error: String
    public init(error: String) { self.error = error }
}

/// Any key, for reading objects whose keys are data (variables) or checked against a list.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
