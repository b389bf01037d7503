import AutoDeco
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// How `autodeco serve` runs.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (reported to `onReady`).
    public var port = 8080
    /// Sequences decoded together in one batched forward pass; more wait in a queue.
    public var parallel = 4
    /// KV-cache size of each sequence (prompt + completion), in tokens.
    public var contextSize = 4096
    /// Sequences allowed to wait; beyond that a request gets 503.
    public var maxQueued = 256
    /// When set, every endpoint but /health needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// The model id of /v1/models and the responses (requests may name any model: one is served).
    public var modelID: String
    public var limits = ServerLimits()

    public init(modelID: String) { self.modelID = modelID }
}

/// The OpenAI-compatible HTTP server: `/v1/chat/completions`, `/v1/completions`, `/v1/models`,
/// `/health`. With AutoDeco heads every token's temperature and top-p come from the heads,
/// combined with the request's `temperature` and `top_p` by the official rule (T = T_pred * T_user,
/// P = clamp(P_pred * P_user)); without them the request's values are used as they are.
public final class OpenAIServer: Sendable {
    public let model: LoadedModel
    public let heads: AutoDecoHeads?
    public let configuration: ServerConfiguration
    let logger: Logger
    let scheduler: GenerationScheduler

    /// `useTemperatureHead`/`useTopPHead`: ablations (a head switched off predicts 1, so the request's value is used).
    public init(model: LoadedModel, heads: AutoDecoHeads?, configuration: ServerConfiguration, logger: Logger,
                useTemperatureHead: Bool = true, useTopPHead: Bool = true) {
        self.model = model; self.heads = heads; self.configuration = configuration; self.logger = logger
        let pool = model.model.pool
        scheduler = GenerationScheduler(
            generator: BatchGenerator(model: model, slots: configuration.parallel, contextSize: configuration.contextSize),
            maxQueued: configuration.maxQueued,
            makeController: { () -> any DecodingController in
                if let heads {
                    return AutoDecoController(heads: heads, useTemperatureHead: useTemperatureHead, useTopPHead: useTopPHead, pool: pool)
                } else { return StaticController() }
            })
    }

    /// Serves until the task is cancelled (or, with `handleSignals`, until SIGINT/SIGTERM);
    /// `onReady` gets the bound port.
    public func run(handleSignals: Bool = false, onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        scheduler.start()
        defer { scheduler.stop() }
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "autodeco"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
            logger: logger)
        if handleSignals { try await app.runService() } else { try await app.run() }
    }

    func makeRouter() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.middlewares.add(RequestLogMiddleware(logger: logger))
        router.middlewares.add(OpenAIErrorMiddleware())
        if let key = configuration.apiKey { router.middlewares.add(APIKeyMiddleware(key: key)) }

        let service = CompletionService(model: model, modelID: configuration.modelID, scheduler: scheduler,
                                        contextSize: configuration.contextSize, limits: configuration.limits)
        let maxBody = configuration.limits.maxBodyBytes
        for (path, endpoint) in [("/v1/chat/completions", Endpoint.chat), ("/v1/completions", .completion)] {
            router.post(RouterPath(path)) { request, context -> Response in
                // The client closing the connection cancels this task, and with it the generation.
                // Watching for that consumes the connection's input, so it cannot carry another
                // request: say so (Connection: close), or a pooling client would reuse it and fail.
                var response = try await request.body.consumeWithCancellationOnInboundClose { body in
                    do {
                        let buffer: ByteBuffer
                        do { buffer = try await body.collect(upTo: maxBody) } catch {
                            throw APIError(status: .contentTooLarge, message: "The request body is larger than \(maxBody) bytes.")
                        }
                        return try await service.complete(endpoint, body: Data(buffer.readableBytesView), record: context.record)
                    } catch let error as APIError {
                        return try error.response(from: request, context: context)
                    }
                }
                response.headers[.connection] = "close"
                return response
            }
            router.get(RouterPath(path)) { request, _ -> Response in throw APIError.methodNotAllowed("GET", request.uri.path) }
        }
        router.get("/v1/models") { _, _ in self.json(self.modelsList) }
        router.head("/health") { _, _ in HTTPResponse.Status.ok }
        router.get("/health") { _, _ in
            let load = self.scheduler.load
            return self.json(.object([("status", "ok"), ("model", .string(self.configuration.modelID)),
                                      ("heads", .bool(self.heads != nil)), ("slots", .int(self.configuration.parallel)),
                                      ("running", .int(load.running)), ("queued", .int(load.queued)),
                                      ("finished", .int(load.finished)), ("cancelled", .int(load.cancelled))]))
        }
        return router
    }

    private var modelsList: JSONValue {
        .object([("object", "list"), ("data", [.object([
            ("id", .string(configuration.modelID)), ("object", "model"), ("created", .int(Int(Date().timeIntervalSince1970))),
            ("owned_by", "autodeco"), ("max_model_len", .int(configuration.contextSize)),
        ])])])
    }

    private func json(_ value: JSONValue) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.text)))
    }
}
