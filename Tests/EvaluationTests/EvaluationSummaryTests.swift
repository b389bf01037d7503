import Foundation
import Testing
import AutoDeco
import Evaluation

struct EvaluationSummaryTests {
    static func sample(_ problem: Int, seed: UInt64, _ k: Int, correct: Bool, tokens: Int, cut: Bool = false) -> EvaluationSample {
        EvaluationSample(problemIndex: problem, problemID: "p\(problem)", seed: seed, sample: k, text: "", tokenCount: tokens,
                         finishReason: cut ? .length : .stop, temperatures: nil, topPs: nil, answer: nil, correct: correct)
    }

    /// 2 problems x 2 seeds x 2 samples, scored by hand.
    @Test func passAtOneOverSeedsAndPassAtK() throws {
        let samples = [
            Self.sample(0, seed: 5, 0, correct: true, tokens: 10), Self.sample(0, seed: 5, 1, correct: false, tokens: 20),
            Self.sample(1, seed: 5, 0, correct: false, tokens: 30), Self.sample(1, seed: 5, 1, correct: false, tokens: 256, cut: true),
            Self.sample(0, seed: 6, 0, correct: true, tokens: 12), Self.sample(0, seed: 6, 1, correct: true, tokens: 14),
            Self.sample(1, seed: 6, 0, correct: true, tokens: 40), Self.sample(1, seed: 6, 1, correct: false, tokens: 50),
        ]
        let settings = EvaluationSettings(method: .staticSampling(temperature: 1, topP: 1), seeds: 2, samplesPerSeed: 2, firstSeed: 5, maxTokens: 256)
        let s = EvaluationSummary(samples: samples, settings: settings, problems: 2, dataset: "d", model: "m", heads: nil,
                                  sessionTokens: 432, seconds: 2)
        // Seed 5: problem 0 1/2, problem 1 0/2 -> 0.25. Seed 6: 2/2 and 1/2 -> 0.75.
        #expect(s.passAt1PerSeed == [0.25, 0.75])
        #expect(s.passAt1.mean == 0.5 && s.passAt1.std == 0.25)
        #expect(s.seeds == [5, 6])
        // Problem 0: 3 of 4 correct; problem 1: 1 of 4. pass@2 = mean(1 - C(1,2)/C(4,2), 1 - C(3,2)/C(4,2)) = (1 + 0.5) / 2.
        #expect(abs(s.passAtK["1"]! - 0.5) < 1e-12)
        #expect(abs(s.passAtK["2"]! - 0.75) < 1e-12)
        #expect(abs(s.passAtK["4"]! - 1) < 1e-12)
        #expect(s.lengths.truncatedShare == 1.0 / 8)
        #expect(s.lengths.max == 256 && s.lengths.median == 25)
        #expect(s.lengths.histogram.reduce(0, +) == 8 && s.lengths.histogram.last == 1)
        #expect(s.tokensPerSecond == 216 && s.generatedTokens == 432)
        // summary.json round trip.
        let back = try JSONDecoder().decode(EvaluationSummary.self, from: try s.jsonData())
        #expect(back == s)
    }

    @Test func oracleTiesGoToTheLowerTemperatureAndTheHigherTopP() {
        let points: [(value: Float, score: Double)] = [(0, 0.5), (0.1, 0.7), (0.2, 0.7), (0.3, 0.6)]
        #expect(OracleSweep.best(points)?.value == 0.1)
        #expect(OracleSweep.best(points, preferHigher: true)?.value == 0.2)
        #expect(OracleSweep.grid.count == 11 && OracleSweep.grid.first == 0 && OracleSweep.grid.last == 1)
        #expect(OracleSweep.topPStage(bestTemperature: 0.3).first == .staticSampling(temperature: 0.3, topP: 0))
        // Runs the temperature stage already decoded are not decoded again.
        #expect(OracleSweep.grid.filter { OracleSweep.repeatsTemperatureStage(topP: $0, bestTemperature: 0.3) } == [1])
        #expect(OracleSweep.grid.allSatisfy { OracleSweep.repeatsTemperatureStage(topP: $0, bestTemperature: 0) })
    }
}
