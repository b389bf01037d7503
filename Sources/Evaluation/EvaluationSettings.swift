import Foundation

/// The settings of one evaluation run (recorded in its summary).
public struct EvaluationSettings: Sendable, Equatable {
    public var method: EvaluationMethod
    /// Seeds 0..<seeds (offset by `firstSeed`); `samplesPerSeed` answers per problem and seed.
    public var seeds: Int
    public var samplesPerSeed: Int
    public var firstSeed: UInt64
    public var maxTokens: Int
    /// Appended to each problem after a newline, inside the user message (the paper's suffix).
    public var instruction: String
    /// Sequences decoded together.
    public var parallel: Int

    public static let paperInstruction = "Make sure you output the final answer within \\boxed{}."

    public init(method: EvaluationMethod, seeds: Int = 8, samplesPerSeed: Int = 16, firstSeed: UInt64 = 0, maxTokens: Int = 256,
                instruction: String = EvaluationSettings.paperInstruction, parallel: Int = 16) {
        self.method = method; self.seeds = seeds; self.samplesPerSeed = samplesPerSeed; self.firstSeed = firstSeed
        self.maxTokens = maxTokens; self.instruction = instruction; self.parallel = parallel
    }

    /// Deterministic methods are decoded once per problem (every seed would give the same answer).
    public var effectiveSeeds: Int { method.isDeterministic ? 1 : seeds }
    public var effectiveSamples: Int { method.isDeterministic ? 1 : samplesPerSeed }
}
