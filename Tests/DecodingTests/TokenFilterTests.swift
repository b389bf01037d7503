import Foundation
import Testing
import Decoding
import Kernels

/// Each heuristic rule of spec §8 against its formula on small hand-made distributions, and the
/// sampler's draws against the kept set renormalised.
struct TokenFilterTests {
    static let probabilities: [Float] = [0.5, 0.2, 0.15, 0.1, 0.04, 0.01]
    static var logits: [Float] { probabilities.map { logf($0) } }
    static var entropy: Double { -probabilities.reduce(0.0) { $0 + Double($1) * log(Double($1)) } }

    static func kept(_ f: TokenFilter, mu: Float = 0) -> [Int32] {
        probabilities.withUnsafeBufferPointer { p in
            logits.withUnsafeBufferPointer { l in f.kept(probabilities: p, logits: l, entropy: entropy, mu: mu) }
        }
    }

    @Test func entropyIsExact() {
        let h = Self.logits.withUnsafeBufferPointer { softmaxEntropy($0) }
        #expect(abs(h - Self.entropy) < 1e-6)  // 1.3582 nats
        // At temperature 2 the entropy of softmax(l / 2), computed directly.
        let w = Self.logits.map { exp(Double($0) / 2) }, z = w.reduce(0, +)
        let direct = -w.reduce(0.0) { $0 + $1 / z * log($1 / z) }
        #expect(abs(Self.logits.withUnsafeBufferPointer { softmaxEntropy($0, temperature: 2) } - direct) < 1e-9)
    }

    @Test func epsilonAndEtaKeepTheTokensAboveTheirCut() {
        #expect(Self.kept(.epsilon(0.1)) == [0, 1, 2])                   // p > 0.1 (0.1 itself is not > 0.1)
        #expect(Self.kept(.epsilon(0.9)) == [0])                          // never empty: the top token stays
        // eta: cut = min(eps, sqrt(eps) e^-H); eps 0.2: sqrt(0.2) e^-1.3582 = 0.1150 -> keeps 0.5, 0.2, 0.15
        #expect(Self.kept(.eta(epsilon: 0.2)) == [0, 1, 2])
        // eps 0.03: min(0.03, 0.0445) = 0.03 -> keeps down to 0.04
        #expect(Self.kept(.eta(epsilon: 0.03)) == [0, 1, 2, 3, 4])
    }

    @Test func typicalKeepsTheTokensNearestTheEntropyUntilTheMass() {
        // Surprisals -ln p: 0.693, 1.609, 1.897, 2.303, 3.219, 4.605; H = 1.3582. Distances: 0.665, 0.251,
        // 0.539, 0.944, 1.861, 3.247 -> order 1, 2, 0, 3, 4, 5; cumulative mass 0.2, 0.35, 0.85, 0.95, ...
        #expect(Self.kept(.typical(mass: 0.3)) == [1, 2])
        #expect(Self.kept(.typical(mass: 0.84)) == [0, 1, 2])
        #expect(Self.kept(.typical(mass: 0.9)) == [0, 1, 2, 3])
        #expect(Self.kept(.typical(mass: 1)) == [0, 1, 2, 3, 4, 5])
    }

    /// On a large vocabulary the rule sorts only tokens near the entropy; its kept set must equal a
    /// full sort of every token by distance (peaked and flat distributions, small and large masses).
    @Test(arguments: [(UInt64(1), Float(8), Float(0.95)), (2, 2, 0.95), (3, 0.3, 0.99), (4, 8, 0.2), (5, 20, 0.999)])
    func typicalOnALargeVocabularyEqualsAFullSort(seed: UInt64, spread: Float, mass: Float) {
        var g = SeededGenerator(seed: seed)
        let l = (0..<20_000).map { _ in Float(g.nextUnit()) * spread * (g.nextUnit() < 0.01 ? 2 : 1) }
        let m = l.max()!
        let e = l.map { expf($0 - m) }, z = e.reduce(0, +)
        let p = e.map { $0 / z }
        let h = -p.reduce(0.0) { $0 + ($1 > 0 ? Double($1) * log(Double($1)) : 0) }
        let order = p.indices.filter { p[$0] > 0 }.sorted {
            let a = abs(-log(Double(p[$0])) - h), b = abs(-log(Double(p[$1])) - h)
            return a < b || (a == b && $0 < $1)
        }
        var expected = [Int32](), cum = 0.0
        for i in order { expected.append(Int32(i)); cum += Double(p[i]); if cum >= Double(mass) { break } }
        let kept = p.withUnsafeBufferPointer { pb in
            l.withUnsafeBufferPointer { TokenFilter.typical(mass: mass).kept(probabilities: pb, logits: $0, entropy: h, mu: 0) }
        }
        #expect(kept == expected.sorted(), "spread \(spread), mass \(mass): \(kept.count) kept, expected \(expected.count)")
    }

    @Test func topNSigmaKeepsLogitsWithinNStandardDeviationsOfTheMax() {
        let l = Self.logits.map(Double.init)
        let mean = l.reduce(0, +) / 6, sd = (l.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 6).squareRoot()
        for n in [0.0, 0.5, 1.0, 2.0] {
            let expected = l.indices.filter { l[$0] >= l[0] - n * sd }.map(Int32.init)
            #expect(Self.kept(.topNSigma(n: Float(n))) == expected, "n = \(n)")
        }
    }

    @Test func mirostatKeepsSurprisesUpToMu() {
        // -log2 p: 1, 2.32, 2.74, 3.32, 4.64, 6.64
        #expect(Self.kept(.mirostat(tau: 5, learningRate: 0.1), mu: 3) == [0, 1, 2])
        #expect(Self.kept(.mirostat(tau: 5, learningRate: 0.1), mu: 0.5) == [0])
        #expect(Self.kept(.mirostat(tau: 5, learningRate: 0.1), mu: 10) == [0, 1, 2, 3, 4, 5])
    }

    /// Draws through the sampler: every filter's frequencies match p renormalised over its kept set.
    @Test(arguments: [TokenFilter.typical(mass: 0.84), .eta(epsilon: 0.03), .topNSigma(n: 1), .epsilon(0.1)])
    func samplerDrawsFromTheKeptSetRenormalised(filter: TokenFilter) {
        let keep = Self.kept(filter).map(Int.init)
        let mass = keep.reduce(0.0) { $0 + Double(Self.probabilities[$1]) }
        var s = Sampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9, filter: filter))
        let n = 40_000
        var counts = [Int](repeating: 0, count: 6)
        Self.logits.withUnsafeBufferPointer { l in for _ in 0..<n { counts[Int(s.sample(logits: l).id)] += 1 } }
        for i in 0..<6 {
            let q = keep.contains(i) ? Double(Self.probabilities[i]) / mass : 0
            let f = Double(counts[i]) / Double(n)
            #expect(abs(f - q) <= 5 * (q * (1 - q) / Double(n)).squareRoot() + 1e-12, "\(filter) token \(i): \(f) vs \(q)")
        }
    }

    /// Mirostat's mu follows mu <- mu - eta (s - tau) with s the drawn token's surprise (bits) under
    /// the kept set renormalised: replayed here from the drawn ids.
    @Test func mirostatUpdatesMuFromTheObservedSurprise() {
        let tau: Float = 1.5, rate: Float = 0.5
        var s = Sampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 4,
                                                       filter: .mirostat(tau: tau, learningRate: rate)))
        var mu = 2 * tau
        Self.logits.withUnsafeBufferPointer { l in
            for _ in 0..<200 {
                let keep = Self.kept(.mirostat(tau: tau, learningRate: rate), mu: mu).map(Int.init)
                let id = Int(s.sample(logits: l).id)
                #expect(keep.contains(id), "token \(id) outside the kept set at mu \(mu)")
                let mass = keep.reduce(0.0) { $0 + Double(Self.probabilities[$1]) }
                mu -= rate * (Float(-log2(Double(Self.probabilities[id]) / mass)) - tau)
            }
        }
        // Mirostat steers the observed surprise towards tau (1.5 bits: between keeping the top token
        // only, 0 bits, and keeping all, 1.96 bits on average), so mu stays bounded.
        #expect(mu > 0.5 && mu < 7)
    }

    @Test func entropyTemperatureRulesFollowTheirFormulas() {
        let edt = EntropyTemperatureRule.edt(t0: 0.6, theta: 0.1, base: 0.8)
        #expect(abs(edt.temperature(entropy: 2, vocabularySize: 100) - 0.6 * powf(0.8, 0.05)) < 1e-6)
        #expect(edt.temperature(entropy: 0, vocabularySize: 100) == 0)  // 0.8^(0.1 / 1e-5) underflows: greedy
        let dyn = EntropyTemperatureRule.dynatemp(t: 1, delta: 0.5, exponent: 2)
        let h = 0.5 * log(100.0)  // half the maximum entropy
        #expect(abs(dyn.temperature(entropy: h, vocabularySize: 100) - (0.5 + 1 * 0.25)) < 1e-6)
        #expect(abs(dyn.temperature(entropy: log(100.0), vocabularySize: 100) - 1.5) < 1e-6)
        #expect(EntropyTemperatureRule.dynatemp(t: 0.3, delta: 0.5, exponent: 1).temperature(entropy: 0, vocabularySize: 100) == 0)
        // The controller reads the entropy of the logits it is given.
        let c = EntropyTemperatureController(rule: edt)
        let d = Self.logits.withUnsafeBufferPointer { c.decide(hidden: UnsafeBufferPointer(start: nil, count: 0), logits: $0) }
        #expect(abs(d.temperature - edt.temperature(entropy: Self.entropy, vocabularySize: 6)) < 1e-5 && d.topP == 1)
    }
}
