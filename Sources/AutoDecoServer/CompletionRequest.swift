import Decoding
import Foundation
import Models
import Tokenizers

/// The JSON body of `/v1/completions` and `/v1/chat/completions` as sent. Unknown fields are
/// ignored (as OpenAI does); every known one is type-checked by the decoder, which names it.
public struct CompletionRequestBody: Decodable, Sendable {
    var model: String?
    var messages: [MessageField]?
    var prompt: PromptField?
    var maxTokens: IntegerField?
    var maxCompletionTokens: IntegerField?
    var temperature: Double?
    var topP: Double?
    var topK: IntegerField?
    var minP: Double?
    var seed: IntegerField?
    var stop: StopField?
    var n: IntegerField?
    var stream: Bool?
    var streamOptions: StreamOptionsField?
    var logprobs: LogprobsField?
    var topLogprobs: IntegerField?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    /// vLLM's extension: keep going past end-of-generation tokens (fixed-length outputs for benchmarks).
    var ignoreEOS: Bool?

    enum CodingKeys: String, CodingKey {
        case model, messages, prompt, temperature, seed, stop, n, stream, logprobs
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", topP = "top_p", topK = "top_k"
        case minP = "min_p", streamOptions = "stream_options", topLogprobs = "top_logprobs"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty", ignoreEOS = "ignore_eos"
    }

    /// Decodes a request body (one parse); malformed JSON and wrong types become `APIError`s
    /// naming the field.
    public static func decode(_ data: Data) throws -> CompletionRequestBody {
        do { return try JSONDecoder().decode(CompletionRequestBody.self, from: data) } catch let e as DecodingError {
            switch e {
            // Not JSON, or JSON but not an object: the body as a whole is wrong, not a field.
            case .dataCorrupted(let c) where c.codingPath.isEmpty: throw APIError.malformedJSON
            case .typeMismatch(_, let c) where c.codingPath.isEmpty, .valueNotFound(_, let c) where c.codingPath.isEmpty:
                throw APIError.malformedJSON
            default: throw APIError(decoding: e)
            }
        }
    }
}

public enum Endpoint: Sendable {
    case chat, completion
    var object: String { self == .chat ? "chat.completion" : "text_completion" }
    /// The object of a streamed chunk (legacy completions stream whole `text_completion` objects).
    var chunkObject: String { self == .chat ? "chat.completion.chunk" : "text_completion" }
    var idPrefix: String { self == .chat ? "chatcmpl" : "cmpl" }
}

/// What the server accepts; anything outside is a 400 naming the field (a body over
/// `maxBodyBytes` is a 413).
public struct ServerLimits: Sendable {
    /// Most choices per request (`n` times the number of prompts).
    public var maxChoices = 16
    /// Most alternatives per token (`top_logprobs`, or `logprobs` in completions).
    public var maxTopLogprobs = 20
    /// Most stop strings.
    public var maxStops = 16
    /// Largest request body.
    public var maxBodyBytes = 4 << 20
    public init() {}
}

/// A validated request: token ids, generation parameters and how to answer.
public struct CompletionJob: Sendable {
    public var endpoint: Endpoint
    /// One prompt per prompt given (chat: one), each answered `n` times.
    public var prompts: [[Int32]]
    public var n: Int
    public var parameters: GenerateParameters
    public var seed: UInt64?
    public var stream: Bool
    public var includeUsage: Bool
    /// Report log-probabilities (with `parameters.topLogprobs` alternatives).
    public var logprobs: Bool

    public var choiceCount: Int { prompts.count * n }

    /// The parameters of choice `index` (prompt index * n + sample): seeded requests give each
    /// choice its own seed, so `n` samples differ and a repeated request repeats them.
    public func parameters(choice index: Int) -> GenerateParameters {
        var p = parameters
        p.sampling.seed = seed.map { $0 &+ UInt64(index) }
        return p
    }

    public init(endpoint: Endpoint, body b: CompletionRequestBody, model: LoadedModel, contextSize: Int, limits: ServerLimits) throws {
        self.endpoint = endpoint
        let tokenizer = model.tokenizer
        switch endpoint {
        case .chat:
            guard let messages = b.messages else {
                throw APIError.invalid("Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter")
            }
            guard !messages.isEmpty else { throw APIError.invalid("'messages' must not be empty.", param: "messages") }
            let rendered: String
            do { rendered = try model.renderChat(messages.map { ChatMessage(role: $0.role, content: $0.content) }) } catch {
                throw APIError.invalid("The model's chat template rejected these messages: \(error)", param: "messages")
            }
            prompts = [tokenizer.encode(rendered, addSpecial: true, parseSpecial: true)]
        case .completion:
            guard let prompt = b.prompt else {
                throw APIError.invalid("Missing required parameter: 'prompt'.", param: "prompt", code: "missing_required_parameter")
            }
            switch prompt {
            case .texts(let texts): prompts = texts.map { tokenizer.encode($0, addSpecial: true, parseSpecial: true) }
            case .tokens(let lists):
                // Ids must be ones both the tokenizer (to echo text) and the forward pass (which
                // would fail the whole running batch) know.
                let known = min(tokenizer.vocabularySize, model.model.config.vocab)
                for ids in lists where ids.contains(where: { $0 < 0 || Int($0) >= known }) {
                    throw APIError.invalid("'prompt' holds a token id outside 0..<\(known).", param: "prompt")
                }
                prompts = lists
            }
            guard !prompts.isEmpty else { throw APIError.invalid("'prompt' must not be an empty list.", param: "prompt") }
        }
        let promptParam = endpoint == .chat ? "messages" : "prompt"
        for p in prompts where p.isEmpty {
            throw APIError.invalid("The prompt is empty (no tokens).", param: promptParam)
        }

        n = b.n?.value ?? 1
        guard n >= 1, n <= limits.maxChoices, n * prompts.count <= limits.maxChoices else {  // no overflow on huge n
            let what = prompts.count == 1 ? "" : " for \(prompts.count) prompts"
            throw APIError.invalid("'n' must be at least 1 and give at most \(limits.maxChoices) choices per request; got n = \(n)\(what).", param: "n")
        }
        func check(_ value: Double?, _ name: String, _ range: ClosedRange<Double>) throws {
            if let v = value, !(range.contains(v)) {
                throw APIError.invalid("'\(name)' must be between \(range.lowerBound) and \(range.upperBound); got \(v).", param: name)
            }
        }
        try check(b.temperature, "temperature", 0...2)
        try check(b.topP, "top_p", 0...1)
        try check(b.minP, "min_p", 0...1)
        try check(b.presencePenalty, "presence_penalty", -2...2)
        try check(b.frequencyPenalty, "frequency_penalty", -2...2)
        if let k = b.topK?.value, k < -1 { throw APIError.invalid("'top_k' must be -1 or 0 (off) or a positive number; got \(k).", param: "top_k") }

        // Log-probabilities: chat says `logprobs: true` + `top_logprobs: k`; completions say `logprobs: k`.
        var topLogprobs = 0
        switch b.logprobs {
        case .flag(let on)?:
            logprobs = on
            topLogprobs = b.topLogprobs?.value ?? 0
            if b.topLogprobs != nil && !on {
                throw APIError.invalid("'top_logprobs' needs 'logprobs' set to true.", param: "top_logprobs")
            }
        case .count(let k)?:
            guard endpoint == .completion else {
                throw APIError.invalid("Invalid type for 'logprobs': expected a boolean.", param: "logprobs", code: "invalid_type")
            }
            logprobs = true; topLogprobs = k
        case nil:
            logprobs = false
            if b.topLogprobs != nil { throw APIError.invalid("'top_logprobs' needs 'logprobs' set to true.", param: "top_logprobs") }
        }
        guard (0...limits.maxTopLogprobs).contains(topLogprobs) else {
            throw APIError.invalid("'\(b.topLogprobs != nil ? "top_logprobs" : "logprobs")' must be between 0 and \(limits.maxTopLogprobs); got \(topLogprobs).",
                                   param: b.topLogprobs != nil ? "top_logprobs" : "logprobs")
        }

        let stops = b.stop?.values ?? []
        guard stops.count <= limits.maxStops else {
            throw APIError.invalid("'stop' may hold at most \(limits.maxStops) strings; got \(stops.count).", param: "stop")
        }

        // Length: the longest prompt plus the completion must fit in a sequence's context.
        let longest = prompts.map(\.count).max() ?? 0
        let maxParam = b.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
        let requested = (b.maxCompletionTokens ?? b.maxTokens)?.value
        if let m = requested, m < 1 {
            throw APIError.invalid("'\(maxParam)' must be at least 1; got \(m).", param: maxParam)
        }
        if longest >= contextSize || (requested.map { $0 > contextSize - longest } ?? false) {  // no overflow on huge values
            let wanted = requested.map { "\(longest.addingReportingOverflow($0).overflow ? Int.max : longest + $0) tokens "
                + "(\(longest) in the \(promptParam), \($0) in the completion)" }
                ?? "\(longest) tokens in the \(promptParam)"
            throw APIError.invalid("This model's maximum context length is \(contextSize) tokens. However, you requested \(wanted). "
                                   + "Please reduce the length of the \(promptParam) or completion.",
                                   param: requested != nil && longest < contextSize ? maxParam : promptParam, code: "context_length_exceeded")
        }
        // Defaults as OpenAI: chat runs to the end of the context, legacy completions stop at 16 tokens.
        let maxTokens = requested ?? (endpoint == .chat ? contextSize - longest : min(16, contextSize - longest))

        let topK = b.topK?.value ?? 0
        parameters = GenerateParameters(
            maxTokens: maxTokens,
            sampling: SamplingParameters(temperature: Float(b.temperature ?? 1), topK: max(topK, 0),
                                         topP: Float(b.topP ?? 1), minP: Float(b.minP ?? 0)),
            stopStrings: stops, stopOnEndOfGeneration: !(b.ignoreEOS ?? false),
            presencePenalty: Float(b.presencePenalty ?? 0), frequencyPenalty: Float(b.frequencyPenalty ?? 0),
            logprobs: logprobs, topLogprobs: logprobs ? topLogprobs : 0)
        seed = b.seed.map { UInt64(bitPattern: Int64($0.value)) }
        stream = b.stream ?? false
        includeUsage = b.streamOptions?.includeUsage ?? false
    }
}
