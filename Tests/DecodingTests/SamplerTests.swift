import Foundation
import Testing
import Decoding
import Kernels

/// Seeded statistical tests: many draws against the distribution each filter chain should give,
/// computed here by brute force (full sort, double precision).
struct SamplerTests {
    /// The intended distribution: softmax(l / T) -> top-k -> top-p (smallest prefix reaching P) -> min-p.
    static func reference(_ l: [Float], t: Double, k: Int, p: Double, minP: Double) -> [Int: Double] {
        let m = Double(l.max()!)
        let w = l.map { exp((Double($0) - m) / t) }
        var order = Array(l.indices).sorted { w[$0] > w[$1] || (w[$0] == w[$1] && $0 < $1) }
        if k > 0 { order = Array(order.prefix(k)) }
        if p < 1 {
            let total = order.reduce(0) { $0 + w[$1] }
            var cum = 0.0, keep = order.count
            for (j, i) in order.enumerated() { cum += w[i]; if cum >= p * total { keep = j + 1; break } }
            order = Array(order.prefix(max(keep, 1)))
        }
        if minP > 0 { order = order.filter { w[$0] >= minP * w[order[0]] } }
        let z = order.reduce(0) { $0 + w[$1] }
        return Dictionary(uniqueKeysWithValues: order.map { ($0, w[$0] / z) })
    }

    static func draw(_ l: [Float], _ params: SamplingParameters, n: Int) -> [Int: Int] {
        var s = Sampler(parameters: params)
        var counts = [Int: Int]()
        l.withUnsafeBufferPointer { b in for _ in 0..<n { counts[Int(s.sample(logits: b).id), default: 0] += 1 } }
        return counts
    }

    /// Every drawn token is in the support, and every frequency is within 5 standard errors. Tokens
    /// expected fewer than 20 times are pooled into one bin (the normal approximation of a count
    /// needs a few dozen expected events; 30k tokens with 0.2 expected draws each would otherwise
    /// produce Poisson outliers by design).
    static func check(_ l: [Float], _ params: SamplingParameters, n: Int = 100_000) {
        let ref = reference(l, t: Double(params.temperature), k: params.topK, p: Double(params.topP), minP: Double(params.minP))
        let counts = draw(l, params, n: n)
        for id in counts.keys { #expect(ref[id] != nil, "token \(id) drawn outside the support (\(params))") }
        func within(_ f: Double, _ q: Double) -> Bool { abs(f - q) <= 5 * (q * (1 - q) / Double(n)).squareRoot() }
        var pooledQ = 0.0, pooledCount = 0
        for (id, q) in ref {
            if q * Double(n) < 20 { pooledQ += q; pooledCount += counts[id] ?? 0; continue }
            let f = Double(counts[id] ?? 0) / Double(n)
            #expect(within(f, q), "token \(id): frequency \(f), expected \(q) (\(params))")
        }
        let pooledF = Double(pooledCount) / Double(n)
        #expect(within(pooledF, pooledQ), "rare tokens pooled: frequency \(pooledF), expected \(pooledQ) (\(params))")
    }

    static let small: [Float] = [2.0, 1.5, 1.0, 0.2, -0.5, -1.0, 3.0, 0.0]

    @Test func temperatureScalesTheDistribution() {
        for t: Float in [0.5, 1.0, 1.7] { Self.check(Self.small, SamplingParameters(temperature: t, topK: 0, topP: 1, minP: 0, seed: 1)) }
    }

    @Test func topKTopPAndMinPRestrictAndRenormalise() {
        Self.check(Self.small, SamplingParameters(temperature: 1, topK: 3, topP: 1, minP: 0, seed: 2))
        Self.check(Self.small, SamplingParameters(temperature: 0.8, topK: 0, topP: 0.7, minP: 0, seed: 3))
        Self.check(Self.small, SamplingParameters(temperature: 1.3, topK: 0, topP: 1, minP: 0.2, seed: 4))
        Self.check(Self.small, SamplingParameters(temperature: 1, topK: 5, topP: 0.8, minP: 0.1, seed: 5))
    }

    /// Top-p from 0.8 up is drawn by rejection from the whole distribution; the nucleus edge
    /// must match the full sort, including ties (equal weights rank by lower id).
    @Test func wideNucleiByRejectionMatchTheFullSort() {
        Self.check(Self.small, SamplingParameters(temperature: 1.2, topK: 0, topP: 0.95, minP: 0, seed: 12))
        Self.check(Self.small, SamplingParameters(temperature: 0.7, topK: 0, topP: 0.8, minP: 0, seed: 13))
        let ties: [Float] = [1, 1, 1, 1, 1, -5]
        Self.check(ties, SamplingParameters(temperature: 1, topK: 0, topP: 0.8, minP: 0, seed: 14))   // ids 0-3
        Self.check(ties, SamplingParameters(temperature: 1, topK: 0, topP: 0.85, minP: 0, seed: 15))  // ids 0-4
    }

    @Test func topPOnALargeVocabularyMatchesAFullSort() {
        // 49152 logits like a real LM head: a few strong candidates and a long tail whose mass matters.
        var g = SeededGenerator(seed: 42)
        var l = (0..<49152).map { _ in Float(g.nextUnit() * 6 - 3) }
        for i in 0..<10 { l[i * 4099] = 6 + Float(i) * 0.3 }
        for p: Float in [0.5, 0.9, 0.99] {
            Self.check(l, SamplingParameters(temperature: 1, topK: 0, topP: p, minP: 0, seed: 6), n: 8_000)
        }
        // Without filters the tail must be drawn from too.
        let counts = Self.draw(l, .unfiltered(seed: 7), n: 20_000)
        let tail = counts.filter { $0.key % 4099 != 0 || $0.key >= 41_000 }.values.reduce(0, +)
        let ref = Self.reference(l, t: 1, k: 0, p: 1, minP: 0)
        let refTail = ref.filter { $0.key % 4099 != 0 || $0.key >= 41_000 }.values.reduce(0, +)
        #expect(abs(Double(tail) / 20_000 - refTail) < 0.02, "tail mass \(Double(tail) / 20_000) vs \(refTail)")
    }

    @Test func greedyAndEdgeCases() {
        var s = Sampler(parameters: .greedy)
        let tok = Self.small.withUnsafeBufferPointer { s.sample(logits: $0) }
        #expect(tok.id == 6)
        let lse = log(Self.small.reduce(0.0) { $0 + exp(Double($1)) })
        #expect(abs(Double(tok.logprob ?? .nan) - (3.0 - lse)) < 1e-5)
        // Without log-probabilities: the same token, no logprob.
        var quiet = Sampler(parameters: .greedy)
        quiet.computesLogprobs = false
        let same = Self.small.withUnsafeBufferPointer { quiet.sample(logits: $0) }
        #expect(same.id == 6 && same.logprob == nil)
        // top-p 0 keeps exactly one token (the most probable).
        #expect(Self.draw(Self.small, SamplingParameters(temperature: 1, topK: 0, topP: 0, minP: 0, seed: 1), n: 500).keys.sorted() == [6])
        // A controller's per-token temperature and top-p override the configured ones.
        var c = Sampler(parameters: .unfiltered(seed: 3))
        let ids = Set((0..<200).map { _ in Self.small.withUnsafeBufferPointer { c.sample(logits: $0, temperature: 0, topP: 1).id } })
        #expect(ids == [6])
    }

    @Test func sameSeedSameDrawsDifferentSeedDifferentDraws() {
        func run(_ seed: UInt64) -> [Int32] {
            var s = Sampler(parameters: .unfiltered(seed: seed))
            return (0..<64).map { _ in Self.small.withUnsafeBufferPointer { s.sample(logits: $0).id } }
        }
        #expect(run(11) == run(11))
        #expect(run(11) != run(12))
    }
}
