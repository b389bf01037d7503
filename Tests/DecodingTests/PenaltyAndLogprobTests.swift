import Foundation
import Testing
import Decoding
import Kernels
import Models

@Suite struct PenaltyAndLogprobTests {
    @Test func penaltiesFollowTheOpenAIFormula() {
        let penalty = RepetitionPenalty(presence: 0.5, frequency: 0.25)
        let logits: [Float] = [1, 2, 3, 4, 5]
        logits.withUnsafeBufferPointer { l in
            // Nothing generated yet: the logits themselves, not a copy.
            #expect(penalty.apply(l).baseAddress == l.baseAddress)
            for t: Int32 in [1, 3, 3, 3] { penalty.record(t) }
            let out = Array(penalty.apply(l))
            #expect(out == [1, 2 - 0.5 - 0.25, 3, 4 - 0.5 - 0.75, 5])
        }
        #expect(logits == [1, 2, 3, 4, 5], "the model's logits stay intact")
        let off = RepetitionPenalty(presence: 0, frequency: 0)
        off.record(2)
        logits.withUnsafeBufferPointer { #expect(off.apply($0).baseAddress == $0.baseAddress) }
    }

    /// Penalties change only what the sampler draws from: a controller sees the model's raw
    /// logits (the AutoDeco statistics are theirs, AUTODECO.md §3). The first token is drawn
    /// before any penalty applies, so the second step's raw logits are the same with and without
    /// a presence penalty; the sampler's are not.
    @Test func controllersSeeTheRawLogits() throws {
        final class Recorder: DecodingController {
            var seen = [[Float]]()
            func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
                seen.append(Array(logits)); return .neutral
            }
        }
        let lm = try SharedModel.get()
        let prompt = lm.tokenizer.encode("The river", addSpecial: true, parseSpecial: true)
        func run(presence: Float) throws -> (seen: [[Float]], ids: [Int32]) {
            let recorder = Recorder()
            var ids = [Int32]()
            let p = GenerateParameters(maxTokens: 3, sampling: SamplingParameters(temperature: 0), stopOnEndOfGeneration: false,
                                       presencePenalty: presence)
            _ = try Generator(model: lm, contextSize: 64, controller: recorder).run(prompt: prompt, parameters: p) { ids.append($0.id) }
            return (recorder.seen, ids)
        }
        let plain = try run(presence: 0), penalized = try run(presence: 2)
        #expect(plain.ids[0] == penalized.ids[0])
        #expect(plain.seen.count == 3 && penalized.seen.count == 3)
        let same = plain.seen[1] == penalized.seen[1]  // (not inside #expect: it would print both vocabularies)
        #expect(same, "the controller saw penalized logits")
    }

    @Test func topLogprobsEqualAFullSort() {
        var rng = SeededGenerator(seed: 3)
        for n in [1, 7, 5000] {
            let logits = (0..<n).map { _ in Float(rng.nextUnit() * 20 - 10) }
            let (top, logZ) = logits.withUnsafeBufferPointer { TopLogprobs.select($0, k: 5) }
            let exact = log(logits.map { exp(Double($0)) }.reduce(0, +))
            #expect(abs(Double(logZ) - exact) < 1e-4)
            let sorted = logits.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            #expect(top.map(\.id) == sorted.prefix(5).map { Int32($0.offset) })
            for t in top { #expect(abs(Double(t.logprob) - (Double(logits[Int(t.id)]) - exact)) < 1e-4) }
        }
        #expect([Float]().withUnsafeBufferPointer { TopLogprobs.select($0, k: 3).top }.isEmpty)
    }
}
