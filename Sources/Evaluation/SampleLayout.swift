/// Where each (problem, seed, sample) lives in the flat list of an evaluation's samples: problem
/// after problem, in each the seeds in order, in each seed its samples.
public struct SampleLayout: Sendable {
    public let firstSeed: UInt64
    public let seeds: Int
    public let perSeed: Int
    public var perProblem: Int { seeds * perSeed }

    public init(firstSeed: UInt64, seeds: Int, perSeed: Int) {
        self.firstSeed = firstSeed; self.seeds = seeds; self.perSeed = perSeed
    }

    /// The flat index, or nil when the seed or sample is outside this evaluation's.
    public func index(problem: Int, seed: UInt64, sample: Int) -> Int? {
        guard seed >= firstSeed, seed < firstSeed + UInt64(seeds), (0..<perSeed).contains(sample) else { return nil }
        return problem * perProblem + Int(seed - firstSeed) * perSeed + sample
    }

    /// The (problem, seed, sample) at a flat index.
    public func slot(_ index: Int) -> (problem: Int, seed: UInt64, sample: Int) {
        let (problem, within) = index.quotientAndRemainder(dividingBy: perProblem)
        return (problem, firstSeed + UInt64(within / perSeed), within % perSeed)
    }
}
