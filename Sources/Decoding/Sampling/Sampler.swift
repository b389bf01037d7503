import Foundation
import Kernels

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
        guard let base = l.baseAddress else { return SampledToken(id: 0, logprob: 0) }
        // Max and log-sum-exp of the raw logits (for the reported log-probability).
        var maxIndex = 0
        var maxLogit = -Float.infinity
        for i in 0..<n where l[i] > maxLogit { maxLogit = l[i]; maxIndex = i }
        let rawSum = VectorOps.sumExp(base, n: n, shift: maxLogit, scale: 1)
        let logZ = maxLogit + logf(rawSum)
        func result(_ id: Int) -> SampledToken { SampledToken(id: Int32(id), logprob: l[id] - logZ) }

        if temperature <= 0 || !temperature.isFinite || maxLogit == -.infinity { return result(maxIndex) }
        let invT = 1 / temperature
        let p = parameters
        let k = p.topK > 0 && p.topK < n ? p.topK : 0
        let usesTopP = topP < 1 && k == 0
        // Scaled partition function: for top-p mass over the whole vocabulary, and for unfiltered draws.
        var scaledSum: Float = 0
        if usesTopP || (k == 0 && p.minP <= 0) {
            scaledSum = invT == 1 ? rawSum : VectorOps.sumExp(base, n: n, shift: maxLogit, scale: invT)
        }
        if k == 0 && !usesTopP && p.minP <= 0 {
            // Nothing filters: inverse-CDF draw over the whole vocabulary, no candidate list.
            let target = Float(rng.nextUnit()) * scaledSum
            return result(VectorOps.searchCumulativeExp(base, n: n, shift: maxLogit, scale: invT, target: target))
        }

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
        if k > 0 {
            selectLeading(count: k)
            if topP < 1 {
                // Top-p after top-k is relative to the kept set, as in a standard sampler chain.
                candidates.sort { $0.z > $1.z || ($0.z == $1.z && $0.id < $1.id) }
                let target = max(topP, 0) * candidates.reduce(Float(0)) { $0 + expf($1.z) }
                var cum: Float = 0
                var keep = candidates.count
                for (j, c) in candidates.enumerated() {
                    cum += expf(c.z)
                    if cum >= target { keep = j + 1; break }
                }
                candidates.removeSubrange(max(keep, 1)...)
            }
        } else if usesTopP {
            selectLeading(mass: max(topP, 0) * scaledSum)
        }
        if p.minP > 0 {
            // Relative to the most probable token, whose z is 0; it always stays.
            let cut = logf(p.minP)
            candidates.removeAll { $0.z < cut }
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

    /// Keeps the `count` best candidates (by z, ties to the lower id), in no particular order.
    private mutating func selectLeading(count: Int) { selectLeading(count: count, mass: nil) }

    /// Keeps the smallest set of best candidates whose exp(z) sum reaches `mass` (at least one).
    private mutating func selectLeading(mass: Float) { selectLeading(count: nil, mass: mass) }

    /// Top-k / nucleus selection without sorting every candidate: candidates go into buckets by z;
    /// the leading buckets that do not yet reach the goal are kept whole, and only the bucket where
    /// the goal is reached is sorted and cut. A near-flat distribution (a nucleus of 30k tokens)
    /// then costs two linear passes instead of a 30k-entry sort.
    private mutating func selectLeading(count goalCount: Int?, mass goalMass: Float?) {
        func reached(_ n: Int, _ m: Float) -> Bool {
            if let goalCount { return n >= goalCount }
            return m >= goalMass ?? 0
        }
        let bucketCount = 256
        var lowest: Float = 0
        for c in candidates where c.z < lowest { lowest = c.z }
        let scale = lowest < 0 ? Float(bucketCount - 1) / -lowest : 0
        @inline(__always) func bucket(_ z: Float) -> Int { Int(-z * scale) }  // z >= lowest, so < bucketCount
        var counts = [Int](repeating: 0, count: bucketCount)
        var masses = [Float](repeating: 0, count: bucketCount)
        for c in candidates {
            let b = bucket(c.z)
            counts[b] += 1
            if goalMass != nil { masses[b] += expf(c.z) }
        }
        // The boundary bucket: the first where the goal is reached counting it whole.
        var boundary = bucketCount - 1
        var countBefore = 0
        var massBefore: Float = 0
        for b in 0..<bucketCount {
            if reached(countBefore + counts[b], massBefore + masses[b]) { boundary = b; break }
            countBefore += counts[b]; massBefore += masses[b]
        }
        var inside = candidates.filter { bucket($0.z) == boundary }
        inside.sort { $0.z > $1.z || ($0.z == $1.z && $0.id < $1.id) }
        var take = inside.count
        var n = countBefore, m = massBefore
        for (j, c) in inside.enumerated() {
            n += 1; m += expf(c.z)
            if reached(n, m) { take = j + 1; break }
        }
        candidates.removeAll { bucket($0.z) >= boundary }
        candidates += inside.prefix(take)
    }
}
