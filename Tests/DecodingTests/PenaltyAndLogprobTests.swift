import Foundation
import Testing
import Decoding
import Kernels

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
