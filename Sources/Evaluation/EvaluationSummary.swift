import Foundation

/// The scores of one evaluation run, as the paper reports them (spec §6): pass@1 per seed (the
/// mean over problems of the share of correct answers), its mean and standard deviation over
/// seeds, pass@k over all of a problem's answers, and the answer lengths. Written as summary.json.
public struct EvaluationSummary: Sendable, Codable, Equatable {
    public struct Lengths: Sendable, Codable, Equatable {
        public var mean: Double, median: Double, p90: Double, max: Int
        /// Share of answers cut off at max tokens (graded wrong).
        public var truncatedShare: Double
        /// Counts of answers per 32-token bin (bin b holds lengths 32b ..< 32(b+1)).
        public var histogram: [Int]
        enum CodingKeys: String, CodingKey { case mean, median, p90, max, truncatedShare = "truncated_share", histogram }
    }

    public var method: String
    public var dataset: String
    public var model: String
    public var heads: String?
    public var problems: Int
    public var seeds: [UInt64]
    public var samplesPerSeed: Int
    public var maxTokens: Int
    public var instruction: String
    /// Pass@1 of each seed, in seed order.
    public var passAt1PerSeed: [Double]
    public var passAt1: MeanStd
    /// k -> pass@k (unbiased estimator over the seeds x samples answers of each problem), as strings for JSON keys.
    public var passAtK: [String: Double]
    public var lengths: Lengths
    /// Mean per-token temperature and top-p over all generated tokens (methods that vary them).
    public var meanTemperature: Double?
    public var meanTopP: Double?
    public var generatedTokens: Int
    public var seconds: Double
    public var tokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case method, dataset, model, heads, problems, seeds, instruction, lengths, seconds
        case samplesPerSeed = "samples_per_seed", maxTokens = "max_tokens", passAt1PerSeed = "pass_at_1_per_seed"
        case passAt1 = "pass_at_1", passAtK = "pass_at_k", meanTemperature = "mean_temperature", meanTopP = "mean_top_p"
        case generatedTokens = "generated_tokens", tokensPerSecond = "tokens_per_second"
    }

    /// `sessionTokens` and `seconds`: what this process generated and how long it took (a resumed
    /// run's earlier answers count in the scores, not in tokens/s).
    public init(samples: [EvaluationSample], settings: EvaluationSettings, problems: Int, dataset: String, model: String,
                heads: String?, sessionTokens: Int, seconds: Double) {
        method = settings.method.description
        self.dataset = dataset; self.model = model; self.heads = heads; self.problems = problems
        let seedValues = Array(Set(samples.map(\.seed))).sorted()
        seeds = seedValues
        samplesPerSeed = settings.effectiveSamples
        maxTokens = settings.maxTokens
        instruction = settings.instruction
        passAt1PerSeed = seedValues.map { seed in
            Self.meanOverProblems(samples.filter { $0.seed == seed }) { answers in
                Double(answers.filter(\.correct).count) / Double(answers.count)
            }
        }
        passAt1 = MeanStd(passAt1PerSeed)
        let n = samples.count / max(problems, 1)
        passAtK = Dictionary(uniqueKeysWithValues: PassAtK.ks(upTo: max(n, 1)).map { k in
            (String(k), Self.meanOverProblems(samples) { answers in
                PassAtK.estimate(samples: answers.count, correct: answers.filter(\.correct).count, k: min(k, answers.count))
            })
        })
        let counts = samples.map(\.tokenCount).sorted()
        func quantile(_ q: Double) -> Double {
            guard !counts.isEmpty else { return .nan }
            let x = q * Double(counts.count - 1), lo = Int(x.rounded(.down)), hi = Swift.min(lo + 1, counts.count - 1)
            return Double(counts[lo]) + (x - Double(lo)) * Double(counts[hi] - counts[lo])
        }
        var histogram = [Int](repeating: 0, count: (settings.maxTokens + 31) / 32 + 1)
        for c in counts { histogram[Swift.min(c / 32, histogram.count - 1)] += 1 }
        while histogram.count > 1 && histogram.last == 0 { histogram.removeLast() }
        lengths = Lengths(mean: Double(counts.reduce(0, +)) / Double(max(counts.count, 1)), median: quantile(0.5), p90: quantile(0.9),
                          max: counts.last ?? 0,
                          truncatedShare: Double(samples.filter { $0.finishReason != .stop }.count) / Double(max(samples.count, 1)),
                          histogram: histogram)
        func mean(_ values: [[Float]]) -> Double? {
            let total = values.reduce(0) { $0 + $1.count }
            return total == 0 ? nil : values.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } } / Double(total)
        }
        meanTemperature = mean(samples.compactMap(\.temperatures))
        meanTopP = mean(samples.compactMap(\.topPs))
        generatedTokens = samples.reduce(0) { $0 + $1.tokenCount }
        self.seconds = seconds
        tokensPerSecond = seconds > 0 ? Double(sessionTokens) / seconds : 0
    }

    /// The mean over problems of `score(answers of that problem)`.
    static func meanOverProblems(_ samples: [EvaluationSample], _ score: ([EvaluationSample]) -> Double) -> Double {
        let byProblem = Dictionary(grouping: samples, by: \.problemIndex)
        guard !byProblem.isEmpty else { return .nan }
        return byProblem.values.reduce(0) { $0 + score($1) } / Double(byProblem.count)
    }

    /// pass@k in ascending k.
    public var passAtKSorted: [(k: Int, value: Double)] {
        passAtK.compactMap { key, v in Int(key).map { ($0, v) } }.sorted { $0.k < $1.k }
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(self)
    }

    public static func read(_ path: String) throws -> EvaluationSummary {
        guard let d = FileManager.default.contents(atPath: path) else { throw EvaluationError.noSamples(path) }
        let dec = JSONDecoder()
        dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try dec.decode(EvaluationSummary.self, from: d)
    }

    /// A Markdown table of this run.
    public var markdown: String {
        let ks = passAtKSorted.filter { $0.k > 1 }
        var s = "| method | dataset | pass@1 (mean ± std over \(seeds.count) seeds) |"
            + ks.map { " pass@\($0.k) |" }.joined() + " mean length | cut off | T mean | P mean | tokens/s |\n"
        s += "|---|---|---|" + String(repeating: "---|", count: ks.count) + "---|---|---|---|---|\n"
        func opt(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }
        s += "| \(method) | \(dataset) | \(passAt1.percent) |" + ks.map { String(format: " %.1f |", 100 * $0.value) }.joined()
            + String(format: " %.1f | %.1f%% |", lengths.mean, 100 * lengths.truncatedShare)
            + " \(opt(meanTemperature)) | \(opt(meanTopP)) |" + String(format: " %.0f |\n", tokensPerSecond)
        s += "\n\(problems) problems x \(seeds.count) seeds x \(samplesPerSeed) samples, at most \(maxTokens) tokens; "
            + String(format: "lengths: median %.0f, p90 %.0f, max %d; %d tokens in %.1f s.\n", lengths.median, lengths.p90, lengths.max, generatedTokens, seconds)
        return s
    }
}
