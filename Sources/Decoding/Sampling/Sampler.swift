import Foundation

/// The token chosen by a sampler.
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    /// log p(id) under the model's unmodified distribution (softmax of the raw logits).
    public var logprob: Float
}

/// Picks tokens from logits by the chain of `SamplingParameters`, without sorting the
/// vocabulary: candidates are the tokens within `delta` of the top scaled logit, a set that
/// grows only until it provably holds the top-k / top-p nucleus (usually a few dozen tokens
/// out of 49k). Keeps its random state between calls; scratch buffers are reused.
///
/// ```swift
/// var sampler = Sampler(parameters: SamplingParameters(temperature: 0.7, seed: 1))
/// let next = logits.withUnsafeBufferPointer { sampler.sample(logits: $0) }
/// ```
public struct Sampler {
    public var parameters: SamplingParameters
    private var rng: SeededGenerator
    private var candidates: [(id: Int32, z: Float)] = []

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    /// Samples with the configured temperature and top-p.
    public mutating func sample(logits: UnsafeBufferPointer<Float>) -> SampledToken {
        sample(logits: logits, temperature: parameters.temperature, topP: parameters.topP)
    }

    /// Samples with a temperature and top-p chosen for this token (a decoding controller's output);
    /// top-k and min-p come from `parameters`.
    public mutating func sample(logits l: UnsafeBufferPointer<Float>, temperature: Float, topP: Float) -> SampledToken {
        let n = l.count
        precondition(n > 0, "empty logits")
        // Max and log-sum-exp of the raw logits (for the reported log-probability).
        var maxIndex = 0
        var maxLogit = -Float.infinity
        for i in 0..<n where l[i] > maxLogit { maxLogit = l[i]; maxIndex = i }
        var rawSum: Float = 0
        for i in 0..<n { rawSum += expf(l[i] - maxLogit) }
        let logZ = maxLogit + logf(rawSum)
        func result(_ id: Int) -> SampledToken { SampledToken(id: Int32(id), logprob: l[id] - logZ) }

        if temperature <= 0 || !temperature.isFinite || maxLogit == -.infinity { return result(maxIndex) }
        let invT = 1 / temperature
        let p = parameters
        let k = p.topK > 0 && p.topK < n ? p.topK : 0
        let usesTopP = topP < 1 && k == 0
        // Scaled partition function, needed only to measure the top-p mass over the whole vocabulary.
        var scaledSum: Float = 0
        if usesTopP { for i in 0..<n { scaledSum += expf((l[i] - maxLogit) * invT) } }

        // Grow the candidate window {z >= -delta}, z = (logit - max) / T <= 0, until it provably holds
        // what the filters keep. Min-p keeps only z >= ln(minP), so the window never needs to be wider,
        // except when top-p must measure the mass of the whole top-k set.
        let restricts = k > 0 || usesTopP
        let minPDelta: Float = p.minP > 0 ? -logf(min(p.minP, 1)) : .infinity
        let limit = k > 0 && topP < 1 ? Float.infinity : minPDelta
        var delta = min(Float(8), limit)
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass: Float = 0
            let floor = -delta
            for i in 0..<n {
                let z = (l[i] - maxLogit) * invT
                if z >= floor { candidates.append((Int32(i), z)); if usesTopP { mass += expf(z) } }
            }
            let enoughK = k == 0 || candidates.count >= k
            let enoughP = !usesTopP || mass >= max(topP, 0) * scaledSum
            if candidates.count == n || delta >= limit || (restricts && enoughK && enoughP) { break }
            delta = delta > 64 ? .infinity : min(delta * 2, limit)
        }
        candidates.sort { $0.z > $1.z || ($0.z == $1.z && $0.id < $1.id) }

        if k > 0 && candidates.count > k { candidates.removeSubrange(k...) }
        if topP < 1 {
            // The nucleus: smallest prefix whose mass reaches topP (at least one token). After top-k
            // the mass is relative to the kept set, as in a standard sampler chain.
            let total = k > 0 ? candidates.reduce(Float(0)) { $0 + expf($1.z) } : scaledSum
            let target = max(topP, 0) * total
            var cum: Float = 0
            var keep = candidates.count
            for (j, c) in candidates.enumerated() {
                cum += expf(c.z)
                if cum >= target { keep = j + 1; break }
            }
            candidates.removeSubrange(max(keep, 1)...)
        }
        if p.minP > 0 {
            let cut = logf(p.minP)  // z of the top candidate is 0
            let keep = candidates.firstIndex { $0.z < cut } ?? candidates.count
            candidates.removeSubrange(max(keep, 1)...)
        }

        var total: Double = 0
        for c in candidates { total += Double(expf(c.z)) }
        var r = rng.nextUnit() * total
        for c in candidates {
            r -= Double(expf(c.z))
            if r < 0 { return result(Int(c.id)) }
        }
        return result(Int(candidates[candidates.count - 1].id))
    }
}
