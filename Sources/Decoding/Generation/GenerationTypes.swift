/// What to generate and how to sample it: a plain value.
public struct GenerateParameters: Sendable, Equatable {
    /// Stop after this many generated tokens (finish reason `.length`).
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Generation stops when the text contains one of these; the stop string is not emitted.
    public var stopStrings: [String]
    /// Also stop on the model's end-of-generation tokens (they are not emitted as text).
    public var stopOnEndOfGeneration: Bool
    /// OpenAI's presence penalty: subtracted once from the logit of every token already generated.
    public var presencePenalty: Float
    /// OpenAI's frequency penalty: subtracted from a generated token's logit per occurrence.
    public var frequencyPenalty: Float
    /// Report each token's log-probability (`GeneratedToken.logprob`; implied by `topLogprobs` > 0).
    /// Off by default: it costs an exp of every logit per token.
    public var logprobs: Bool
    /// Report this many most probable alternatives with each token (0 = none).
    public var topLogprobs: Int

    public init(maxTokens: Int = 256, sampling: SamplingParameters = SamplingParameters(),
                stopStrings: [String] = [], stopOnEndOfGeneration: Bool = true,
                presencePenalty: Float = 0, frequencyPenalty: Float = 0, logprobs: Bool = false, topLogprobs: Int = 0) {
        self.maxTokens = maxTokens; self.sampling = sampling
        self.stopStrings = stopStrings; self.stopOnEndOfGeneration = stopOnEndOfGeneration
        self.presencePenalty = presencePenalty; self.frequencyPenalty = frequencyPenalty
        self.logprobs = logprobs; self.topLogprobs = topLogprobs
    }
}

/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    /// An end-of-generation token or a stop string.
    case stop
    /// `maxTokens` reached, or the context is full.
    case length
    /// The consumer cancelled.
    case cancelled
}

/// One generated token.
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int32
    /// The text this token adds (may be empty while a UTF-8 sequence or a possible stop string is incomplete).
    public var text: String
    /// log p(token) under the model's distribution (softmax of the logits after any presence and
    /// frequency penalties, before temperature and truncation); nil unless
    /// `GenerateParameters.logprobs` or `topLogprobs` asked for it.
    public var logprob: Float?
    /// The temperature this token was sampled with (0 = greedy), after combining the controller's
    /// prediction with the user's setting.
    public var temperature: Float
    /// The top-p this token was sampled with.
    public var topP: Float
    /// The most probable tokens at this position under the same distribution as `logprob`
    /// (`GenerateParameters.topLogprobs` of them; empty when none were asked for).
    public var topLogprobs: [TokenLogprob]

    public init(id: Int32, text: String, logprob: Float?, temperature: Float = 0, topP: Float = 1, topLogprobs: [TokenLogprob] = []) {
        self.id = id; self.text = text; self.logprob = logprob; self.temperature = temperature; self.topP = topP
        self.topLogprobs = topLogprobs
    }
}

/// Minimum, mean and maximum of a per-token value over a generation.
public struct ValueRange: Sendable, Equatable {
    public var min: Float
    public var mean: Float
    public var max: Float
}

struct RunningRange {
    private var lo = Float.infinity, hi = -Float.infinity, sum = 0.0, count = 0
    mutating func add(_ v: Float) { lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += Double(v); count += 1 }
    var range: ValueRange? { count == 0 ? nil : ValueRange(min: lo, mean: Float(sum / Double(count)), max: hi) }
}

/// Counts and timings of one generation.
public struct GenerationSummary: Sendable, Equatable {
    public var promptTokens: Int
    /// Prompt tokens actually computed (the rest were reused from the KV cache).
    public var promptTokensEvaluated: Int
    public var generatedTokens: Int
    public var promptSeconds: Double
    public var generationSeconds: Double
    public var stopReason: StopReason
    /// Range of the per-token temperatures and top-p values used (nil when nothing was generated).
    public var temperature: ValueRange? = nil
    public var topP: ValueRange? = nil

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokensEvaluated) / promptSeconds : 0 }
    /// Decode speed: tokens after the first, over the time after the first (the first comes from the prompt pass).
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(max(generatedTokens - 1, 0)) / generationSeconds : 0
    }
}

/// Events of a generation stream: tokens, then exactly one summary.
public enum GenerationEvent: Sendable, Equatable {
    case token(GeneratedToken)
    case summary(GenerationSummary)
}
