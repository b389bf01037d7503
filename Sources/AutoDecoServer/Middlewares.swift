import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// One log line per request, written when its response has been sent (for a stream: when the
/// stream ends): id, method, path, status, tokens in and out, milliseconds.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let logger: Logger

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let record = context.record
        let line: @Sendable (String) -> Void = { [logger, method = request.method, path = request.uri.path] status in
            let ms = (ContinuousClock.now - start).milliseconds
            logger.info("\(record.id ?? context.id) \(method) \(path) \(status) in=\(record.promptTokens) out=\(record.completionTokens) \(ms)ms")
        }
        do {
            var response = try await next(request, context)
            let body = response.body
            let status = response.status.code
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                do {
                    try await body.write(writer)
                    line("\(status)")
                } catch {
                    line("\(status) (client gone: \(type(of: error)))")
                    throw error
                }
            }
            return response
        } catch {
            line(error is CancellationError ? "499 (client closed the connection)" : "error")
            throw error
        }
    }
}

/// Turns every error into an OpenAI error response: the server's own `APIError`s, Hummingbird's
/// (an unknown route, for one), and anything unexpected (a 500 that names it).
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPError {
            let api = error.status == .notFound ? APIError.notFound(request.uri.path)
                : APIError(status: error.status, message: error.body ?? error.status.reasonPhrase,
                           type: error.status.code >= 500 ? "server_error" : "invalid_request_error")
            return try api.response(from: request, context: context)
        } catch {
            return try APIError.server("Internal error: \(error)").response(from: request, context: context)
        }
    }
}

/// With an API key set, every request but `/health` must carry `Authorization: Bearer <key>`.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    /// The whole expected header value, built once.
    let expected: String

    init(key: String) { expected = "Bearer \(key)" }

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        if request.uri.path != "/health" {
            guard let header = request.headers[.authorization], header == expected else { throw APIError.invalidAPIKey }
        }
        return try await next(request, context)
    }
}

extension Duration {
    var milliseconds: Int { Int(self / .milliseconds(1)) }
}
