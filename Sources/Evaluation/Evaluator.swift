import AutoDeco
import Foundation

/// Runs a decoding method over a problem set by the paper's protocol (spec §6): every problem
/// answered `samplesPerSeed` times under each of `seeds` seeds, all sequences decoded in batches
/// (continuous batching), each answer graded by `AnswerGrader` (cut off at max tokens = wrong).
/// The seed of an answer depends only on (seed, problem id, sample number), so a run is
/// reproducible and a subset of the problems gets the same answers as in the full run.
public final class Evaluator {
    public let model: LoadedModel
    public let heads: AutoDecoHeads?
    public let settings: EvaluationSettings

    public init(model: LoadedModel, heads: AutoDecoHeads?, settings: EvaluationSettings) {
        self.model = model; self.heads = heads; self.settings = settings
    }

    public struct Progress: Sendable {
        public var samplesDone = 0, samplesTotal = 0, tokens = 0
        public var seconds = 0.0
        public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
    }

    public struct Output: Sendable {
        public var samples: [EvaluationSample]
        public var statistics: BatchStatistics
    }

    /// The seed of one answer: a hash of the run's seed, the problem id and the sample number.
    public static func sampleSeed(seed: UInt64, problemID: String, sample: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the id
        for b in problemID.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var g = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ h ^ UInt64(sample) &* 0xBF58_476D_1CE4_E5B9)
        return g.next()
    }

    public func prompt(for problem: Problem) throws -> String {
        try problem.chatPrompt(for: model, instruction: settings.instruction)
    }

    /// Answers every (problem, seed, sample) not in `done` (answers of an interrupted run, kept
    /// as they are); `onSample` sees each new answer as it is graded (to save it), `progress` the counts.
    public func run(problems: [Problem], done: [EvaluationSample] = [], onSample: (EvaluationSample) throws -> Void = { _ in },
                    progress: (Progress) -> Void = { _ in }) throws -> Output {
        if settings.method.usesHeads && heads == nil { throw EvaluationError.headsRequired(settings.method.description) }
        if case .meanShift(nil, _) = settings.method { throw EvaluationError.meanShiftUnresolved }
        let layout = SampleLayout(firstSeed: settings.firstSeed, seeds: settings.effectiveSeeds, perSeed: settings.effectiveSamples)
        let prompts = try problems.map { model.tokenizer.encode(try prompt(for: $0), addSpecial: true, parseSpecial: true) }
        let longest = prompts.map(\.count).max() ?? 1
        let generator = BatchGenerator(model: model, slots: settings.parallel, contextSize: longest + settings.maxTokens + 1)
        let recordsValues = settings.method.variesPerToken

        var samples = [EvaluationSample?](repeating: nil, count: problems.count * layout.perProblem)
        let indexOfProblem = Dictionary(problems.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        for d in done {
            guard let i = indexOfProblem[d.problemID], let index = layout.index(problem: i, seed: d.seed, sample: d.sample) else { continue }
            var kept = d
            kept.problemIndex = i
            samples[index] = kept
        }
        var state = Progress(samplesTotal: samples.count)
        state.samplesDone = samples.filter { $0 != nil }.count
        let start = Date()
        var nextRequest = 0
        progress(state)
        let stats = try generator.run(next: {
            while nextRequest < samples.count && samples[nextRequest] != nil { nextRequest += 1 }
            guard nextRequest < samples.count else { return nil }
            let r = nextRequest
            nextRequest += 1
            let (i, seed, sample) = layout.slot(r)
            let sampling = settings.method.sampling(seed: Self.sampleSeed(seed: seed, problemID: problems[i].id, sample: sample))
            return BatchRequest(id: r, prompt: prompts[i], parameters: GenerateParameters(maxTokens: settings.maxTokens, sampling: sampling),
                                controller: settings.method.controller(heads: heads, pool: model.model.pool))
        }, onFinish: { result in
            let (i, seed, sampleIndex) = layout.slot(result.id)
            let text = result.text
            let truncated = result.stopReason != .stop
            let grade = AnswerGrader.grade(text, gold: problems[i].gold, truncated: truncated)
            let sample = EvaluationSample(
                problemIndex: i, problemID: problems[i].id, seed: seed, sample: sampleIndex,
                text: text, tokenCount: result.tokens.count, finishReason: truncated ? .length : .stop,
                temperatures: recordsValues ? result.tokens.map(\.temperature) : nil,
                topPs: recordsValues ? result.tokens.map(\.topP) : nil, answer: grade.answer, correct: grade.correct)
            samples[result.id] = sample
            try onSample(sample)
            state.samplesDone += 1; state.tokens += result.tokens.count
            state.seconds = Date().timeIntervalSince(start)
            progress(state)
        })
        return Output(samples: samples.map { $0! }, statistics: stats)
    }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case headsRequired(String)
    case meanShiftUnresolved
    case noSamples(String)

    public var description: String {
        switch self {
        case .headsRequired(let m): return "method \(m) needs AutoDeco heads (--heads DIR, or the default model's shipped heads)"
        case .meanShiftUnresolved: return "method meanshift needs its (T, P): give --meanshift-data TRAIN.jsonl (the heads' training file) or meanshift:T,P"
        case .noSamples(let p): return "\(p): no samples to summarise"
        }
    }
}
