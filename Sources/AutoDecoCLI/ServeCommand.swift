import ArgumentParser
import AutoDeco
import AutoDecoServer
import Foundation
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over an OpenAI-compatible HTTP API, with AutoDeco decoding.",
        discussion: """
        Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health. \
        Request fields: model (any name: one model is served), messages / prompt, max_tokens, \
        max_completion_tokens, temperature, top_p, top_k, min_p, seed, stop, n, stream, \
        stream_options.include_usage, logprobs, top_logprobs, presence_penalty, frequency_penalty, \
        ignore_eos (vLLM's); \
        unknown fields are ignored. With heads (the default on the default model) each token's \
        temperature and top-p are the heads' predictions times the request's temperature and top_p \
        (both default 1); each choice, and each streamed chunk, lists them in the extra fields \
        `temperatures` and `top_ps`. Up to --parallel sequences (each choice is one) are decoded \
        together; more wait in a queue. One log line per request goes to stderr.
        """)

    /// The library's defaults, shown by --help (one place for them).
    private static let defaults = ServerConfiguration(modelID: "")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var headsOptions: HeadsOptions

    @Option(name: .long, help: "Address to listen on (0.0.0.0 for every interface).")
    var host = Self.defaults.host

    @Option(name: .long, help: "TCP port (0: any free port).")
    var port = Self.defaults.port

    @Option(name: .long, help: "Sequences decoded together in one batched forward pass.")
    var parallel = Self.defaults.parallel

    @Option(name: .long, help: "KV-cache size of each sequence (prompt + completion), in tokens.")
    var ctx = Self.defaults.contextSize

    @Option(name: .customLong("max-queued"), help: "Sequences allowed to wait for a slot; beyond, requests get 503.")
    var maxQueued = Self.defaults.maxQueued

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on every endpoint but /health (default: $AUTODECO_API_KEY, else none).")
    var apiKey: String?

    @Option(name: .customLong("model-id"), help: "The model id reported by /v1/models and in responses (default: the model's file name).")
    var modelID: String?

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard ctx >= 16 else { throw ValidationError("--ctx must be at least 16") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxQueued >= 1 else { throw ValidationError("--max-queued must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let lm = try modelOptions.load()
        let headsDirectory = try headsOptions.directory(model: modelOptions)
        let heads = try headsDirectory.map {
            try AutoDecoCheckpoint.load(directory: $0, for: lm.model.config, format: headsOptions.headWeights)
        }
        var config = ServerConfiguration(modelID: modelID ?? URL(fileURLWithPath: lm.path).deletingPathExtension().lastPathComponent)
        config.host = host; config.port = port; config.parallel = parallel; config.contextSize = ctx
        config.maxQueued = maxQueued
        config.apiKey = apiKey ?? ProcessInfo.processInfo.environment["AUTODECO_API_KEY"]
        var logger = Logger(label: "autodeco.serve")
        logger.logLevel = .info
        let server = OpenAIServer(model: lm, heads: heads, configuration: config, logger: logger,
                                  useTemperatureHead: !headsOptions.noTemperatureHead, useTopPHead: !headsOptions.noTopPHead)
        let banner = "\(config.modelID) (\(parallel) parallel sequences, context \(ctx) each, "
            + (headsDirectory.map { "AutoDeco heads \($0)" } ?? "no heads") + (config.apiKey == nil ? "" : ", API key required") + ")"
        let host = self.host
        try await server.run(handleSignals: true) { boundPort in
            Console.info("Serving \(banner) at http://\(host):\(boundPort)/v1")
        }
    }
}
