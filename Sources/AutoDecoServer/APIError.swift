import Foundation
import HTTPTypes
import Hummingbird

/// An error in the OpenAI schema: `{"error": {"message", "type", "param", "code"}}` with its
/// HTTP status. Everything a client can get wrong ends up as one of these; nothing a client
/// sends reaches a `fatalError`.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?

    public init(status: HTTPResponse.Status, message: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, param: param, code: code)
    }

    static let malformedJSON = APIError.invalid(
        "We could not parse the JSON body of your request: it is not valid JSON, or not a JSON object.",
        code: "invalid_json")

    static let invalidAPIKey = APIError(
        status: .unauthorized, message: "Incorrect API key provided. Send it as 'Authorization: Bearer <key>'.",
        code: "invalid_api_key")

    static func methodNotAllowed(_ method: String, _ path: String) -> APIError {
        APIError(status: .methodNotAllowed, message: "\(method) is not allowed on \(path).", code: "method_not_allowed")
    }

    static func notFound(_ path: String) -> APIError {
        APIError(status: .notFound, message: "Unknown request URL: \(path). See /v1/models, /v1/completions, /v1/chat/completions.",
                 code: "unknown_url")
    }

    static let overloaded = APIError(
        status: .serviceUnavailable, message: "The server has too many requests queued; retry later.",
        type: "server_error", code: "server_overloaded")

    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error")
    }

    /// The error body in OpenAI's schema.
    public var json: String {
        JSONValue.object([("error", .object([("message", .string(message)), ("type", .string(type)),
                                             ("param", param.map(JSONValue.string) ?? nil), ("code", code.map(JSONValue.string) ?? nil)]))]).text
    }

    /// A JSON decoding failure, named by the field it concerns.
    init(decoding error: DecodingError) {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context).isEmpty ? key.stringValue : "\(path(context)).\(key.stringValue)"
            self = .invalid("Missing required parameter: '\(field)'.", param: field, code: "missing_required_parameter")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = path(context)
            self = .invalid("Invalid type for '\(field)': expected \(APIError.describe(type)).", param: field, code: "invalid_type")
        case .dataCorrupted(let context):
            let field = path(context)
            if field.isEmpty { self = .malformedJSON; return }
            self = .invalid("Invalid value for '\(field)': \(context.debugDescription)", param: field, code: "invalid_value")
        @unknown default:
            self = .malformedJSON
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of another type (\(name))"
        }
    }
}

extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
