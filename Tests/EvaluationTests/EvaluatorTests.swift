import Foundation
import Testing
import AutoDeco
import Evaluation

/// The protocol end to end on the default model: seeds reproduce, answers do not depend on what
/// else was in the batch, per-token values are recorded.
@Suite(.serialized) struct EvaluatorTests {
    static let model = Result<LoadedModel, Error> { try LoadedModel.load(path: DefaultModel.ensure(log: { _ in }), threads: 2) }
    static let problems = [Problem(id: "a", problem: "Calculate 3 + 4.", gold: "7"),
                           Problem(id: "b", problem: "Calculate 8 - 5.", gold: "3"),
                           Problem(id: "c", problem: "State the final answer: 6 + 2 =", gold: "8")]

    static func run(_ method: EvaluationMethod, problems: [Problem] = problems, parallel: Int = 6, firstSeed: UInt64 = 0,
                    heads: AutoDecoHeads? = nil) throws -> [EvaluationSample] {
        let settings = EvaluationSettings(method: method, seeds: 2, samplesPerSeed: 2, firstSeed: firstSeed, maxTokens: 24, parallel: parallel)
        return try Evaluator(model: try model.get(), heads: heads, settings: settings).run(problems: problems).samples
    }

    @Test func sameSeedsSameAnswersWhateverTheBatch() throws {
        let method = EvaluationMethod.staticSampling(temperature: 1, topP: 1)
        let a = try Self.run(method)
        #expect(a.count == 3 * 2 * 2)
        #expect(a == (try Self.run(method)))
        // One problem alone, one sequence at a time: the same answers as inside the full batch.
        let alone = try Self.run(method, problems: [Self.problems[1]], parallel: 1)
        #expect(alone.map(\.text) == a.filter { $0.problemID == "b" }.map(\.text))
        // Other seeds, other answers (12 answers at T = 1 all equal by chance is out of the question).
        let other = try Self.run(method, firstSeed: 100)
        #expect(other.map(\.text) != a.map(\.text))
        for s in a {
            #expect(s.tokenCount <= 24 && (s.finishReason == .stop || s.tokenCount == 24))
            #expect(s.correct == AnswerGrader.grade(s.text, gold: Self.problems[s.problemIndex].gold, truncated: s.finishReason != .stop).correct)
        }
    }

    /// An interrupted run resumed from the answers it saved (as samples.partial.jsonl lines) ends
    /// with exactly the answers of an uninterrupted run, and decodes only the missing ones.
    @Test func sampleLayoutRoundTrips() {
        let layout = SampleLayout(firstSeed: 7, seeds: 3, perSeed: 2)
        for index in 0..<(4 * layout.perProblem) {
            let (problem, seed, sample) = layout.slot(index)
            #expect(layout.index(problem: problem, seed: seed, sample: sample) == index)
        }
        let s = layout.slot(7)
        #expect(s.problem == 1 && s.seed == 7 && s.sample == 1)
        #expect(layout.index(problem: 0, seed: 6, sample: 0) == nil && layout.index(problem: 0, seed: 10, sample: 0) == nil)
        #expect(layout.index(problem: 0, seed: 7, sample: 2) == nil, "a sample beyond this run's (a resumed run with fewer)")
    }

    @Test func resumedRunEqualsUninterruptedRun() throws {
        let settings = EvaluationSettings(method: .staticSampling(temperature: 1, topP: 1), seeds: 2, samplesPerSeed: 2, maxTokens: 24, parallel: 6)
        let evaluator = Evaluator(model: try Self.model.get(), heads: nil, settings: settings)
        let full = try evaluator.run(problems: Self.problems).samples
        let saved = full.enumerated().filter { $0.offset % 3 != 1 }.map(\.element).compactMap {
            EvaluationSample(jsonObject: try! JSONSerialization.jsonObject(with: JSONLines.encode($0.jsonObject)) as! [String: Any])
        }
        var redone = 0
        let resumed = try evaluator.run(problems: Self.problems, done: saved, onSample: { _ in redone += 1 }).samples
        #expect(redone == full.count - saved.count)
        #expect(resumed.map(\.text) == full.map(\.text) && resumed.map(\.correct) == full.map(\.correct))
        #expect(resumed.map(\.problemIndex) == full.map(\.problemIndex))
    }

    @Test func greedyIsDecodedOncePerProblem() throws {
        let g = try Self.run(.greedy)
        #expect(g.count == 3 && g.allSatisfy { $0.seed == 0 && $0.sample == 0 && $0.temperatures == nil })
    }

    @Test func headsRecordTheirPerTokenValues() throws {
        let lm = try Self.model.get()
        let heads = AutoDecoHeads(hiddenSize: lm.model.config.hidden, seed: 3)
        let s = try Self.run(.autodeco(temperatureHead: true, topPHead: true), problems: [Self.problems[0]], heads: heads)
        for x in s {
            #expect(x.temperatures?.count == x.tokenCount && x.topPs?.count == x.tokenCount)
            #expect(x.temperatures!.allSatisfy { $0 > 0 && $0 < 2 } && x.topPs!.allSatisfy { $0 > 0 && $0 <= 1 })
        }
        #expect(throws: EvaluationError.self) { try Self.run(.autodeco(temperatureHead: true, topPHead: true)) }
    }
}
