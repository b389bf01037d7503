/// How to pick the next token from the logits: a plain value.
///
/// The chain (as in Hugging Face and the AutoDeco paper): logits / temperature, then top-k,
/// then top-p over the temperature-scaled distribution, then min-p, then a seeded draw.
/// Temperature 0 is greedy (argmax).
public struct SamplingParameters: Sendable, Equatable {
    /// 0 = greedy.
    public var temperature: Float
    /// Keep the k most probable tokens (0 = off).
    public var topK: Int
    /// Keep the smallest set of most probable tokens whose probability reaches topP (1 = off).
    public var topP: Float
    /// Drop tokens whose probability is below minP times the most probable one's (0 = off).
    public var minP: Float
    /// Same seed, same draws. nil = a random seed.
    public var seed: UInt64?
    /// A heuristic truncation rule (typical, eta, mirostat, ...) applied after the temperature
    /// instead of top-k, top-p and min-p, which are then ignored. nil = the standard chain.
    public var filter: TokenFilter?

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05, seed: UInt64? = nil,
                filter: TokenFilter? = nil) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP; self.seed = seed
        self.filter = filter
    }

    /// Sampling from the model's distribution as it is (temperature 1, no filters).
    public static func unfiltered(seed: UInt64? = nil) -> SamplingParameters {
        SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: seed)
    }

    /// Argmax decoding.
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0)
}
