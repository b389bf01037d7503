import Foundation
import Kernels

/// The token chosen by a sampler.
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    /// log p(id) under softmax of the logits the sampler was given (before temperature and
    /// truncation); nil when the sampler was told not to compute it (`Sampler.computesLogprobs`).
    public var logprob: Float?
}

/// Picks tokens from logits by the chain of `SamplingParameters` without sorting the vocabulary.
///
/// Per token: the log-sum-exp of the logits for the reported log-probability (unless
/// `computesLogprobs` is off; inside the weights' pass when there is one); without filters, an
/// inverse-CDF draw over all tokens. With filters, one SIMD pass writes every weight
/// exp((l - max) / T) to a reused buffer (or a controller's weights at that T are reused). A
/// top-p of at least 0.8 alone is drawn by rejection from the whole distribution; otherwise the
/// candidates are the tokens above a weight floor that grows only until it provably holds the
/// top-k set or the top-p nucleus, and a weight histogram selects the leading ones without a
/// sort (`selectLeading`).
///
/// ```swift
/// var sampler = Sampler(parameters: SamplingParameters(temperature: 0.7, seed: 1))
/// let next = logits.withUnsafeBufferPointer { sampler.sample(logits: $0) }
/// ```
public struct Sampler {
    public var parameters: SamplingParameters
    var rng: SeededGenerator
    let buffers = SamplerBuffers()
    /// Mirostat's running surprise threshold (nil until its first token).
    var mirostatMu: Float?
    /// Whether sampled tokens carry their log-probability. It costs an exp of every raw logit per
    /// token (inside the weights' pass when the sampler computes the weights itself, otherwise a
    /// pass of its own), so callers that do not report it turn it off.
    public var computesLogprobs = true

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
    /// `weights`, if given at this temperature, spare the pass that computes them.
    public mutating func sample(logits l: UnsafeBufferPointer<Float>, temperature: Float, topP: Float,
                                weights precomputed: ScaledWeights? = nil) -> SampledToken {
        let n = l.count
        precondition(n > 0, "empty logits")
        guard let base = l.baseAddress else { return SampledToken(id: 0, logprob: 0) }
        let reuse = precomputed.flatMap { $0.count == n && $0.temperature == temperature && temperature > 0 ? $0 : nil }
        let (maxIndex, maxLogit) = reuse.map { (0, $0.maxLogit) } ?? VectorOps.argmax(base, n: n)
        // log sum exp(l), for the reported log-probability: from the pass that computes the weights
        // (filtered path), or from a pass of its own.
        var logZ = Float.nan
        func rawLogZ() -> Float {
            if logZ.isNaN { logZ = VectorOps.logSumExp(base, n: n, max: maxLogit) }
            return logZ
        }
        func result(_ id: Int) -> SampledToken { SampledToken(id: Int32(id), logprob: computesLogprobs ? l[id] - rawLogZ() : nil) }

        if temperature <= 0 || !temperature.isFinite || maxLogit == -.infinity { return result(maxIndex) }
        if let filter = parameters.filter {
            return result(sampleFiltered(l, filter: filter, temperature: temperature, maxLogit: maxLogit))
        }
        let invT = 1 / temperature
        let p = parameters
        let k = p.topK > 0 && p.topK < n ? p.topK : 0
        let usesTopP = topP < 1
        if k == 0 && !usesTopP && p.minP <= 0 {
            // Nothing filters: inverse-CDF draw over the whole vocabulary, no candidate list.
            if let reuse {
                return result(VectorOps.searchCumulative(reuse.weights, n: n, target: Float(rng.nextUnit()) * reuse.sum))
            }
            let z = invT == 1 ? expf(rawLogZ() - maxLogit) : VectorOps.sumExp(base, n: n, shift: maxLogit, scale: invT)
            let target = Float(rng.nextUnit()) * z
            return result(VectorOps.searchCumulativeExp(base, n: n, shift: maxLogit, scale: invT, target: target))
        }

        let w: UnsafePointer<Float>
        let total: Float
        if let reuse {
            w = reuse.weights; total = reuse.sum
        } else {
            let buffer = buffers.weights(n)
            if computesLogprobs {
                let sums = VectorOps.storeExpWithRawSum(base, n: n, shift: maxLogit, scale: invT, into: buffer)
                total = sums.scaled
                logZ = maxLogit + logf(sums.raw)
            } else {
                total = VectorOps.storeExp(base, n: n, shift: maxLogit, scale: invT, into: buffer)
            }
            w = UnsafePointer(buffer)
        }
        if k == 0 && usesTopP && p.minP <= 0 && topP >= 0.8 {
            // A wide nucleus (AutoDeco's heads mostly predict P > 0.9, where the candidate search
            // below ends up listing most of the vocabulary): draw from the whole distribution by
            // inverse CDF and accept the token if it lies inside the nucleus (the weight ranked
            // before it is under topP of the total). Rejection sampling from p restricted to the
            // nucleus is exactly p renormalised on it; a draw is rejected with probability ~1 - P.
            for _ in 0..<8 {
                let x = VectorOps.searchCumulative(w, n: n, target: Float(rng.nextUnit()) * total)
                guard w[x] > 0 else { continue }
                // At most total - w[x] can rank before x, so a token heavier than (1 - topP) of the
                // total is inside the nucleus without the ranking pass (most draws at the heads'
                // temperatures). The 1e-3 margin leaves to the pass any draw whose outcome the
                // rounding of the two float sums could change.
                if total - w[x] < topP * total * (1 - 1e-3) || VectorOps.massRankedBefore(w, n: n, index: x) < topP * total {
                    return result(x)
                }
            }
            // Eight rejections in a row (a nucleus far below topP of the draws): the exact search.
        }
        // Candidate floor: min-p never keeps weights below minP (the top weight is 1). Top-k needs
        // k candidates; top-p alone needs their mass to reach topP of the total; top-p after top-k
        // needs the whole top-k set, so there min-p cannot stop the search early.
        let minPFloor: Float = p.minP > 0 ? min(p.minP, 1) : 0
        let minPStops = !(k > 0 && usesTopP)
        var floor = max(Float(3.4e-4), minPStops ? minPFloor : 0)  // e^-8 of the top weight
        let candidates = buffers.candidates(n), ids = buffers.ids(n)
        var count = 0
        while true {
            count = VectorOps.indices(of: w, n: n, atLeast: floor, into: ids)
            var mass: Float = 0
            for j in 0..<count {
                let weight = w[Int(ids[j])]
                candidates[j] = Candidate(weight: weight, id: ids[j])
                mass += weight
            }
            let enough = (k > 0 && count >= k) || (k == 0 && usesTopP && mass >= topP * total) || (k == 0 && !usesTopP)
            if enough || (minPStops && floor <= minPFloor) || count == n || floor == 0 { break }
            floor = floor < 1e-30 ? 0 : max(floor * floor, minPStops ? minPFloor : 0)  // e^-8, e^-16, e^-32, ...
        }

        // Top-k, then top-p: the leading candidates that reach k tokens or topP of the mass.
        let kept = buffers.kept(n)
        var keptCount = count
        if k > 0 {
            keptCount = buffers.selectLeading(candidates, count: count, into: kept, goalCount: k, goalMass: .infinity)
            if usesTopP {
                // Top-p after top-k is relative to the kept set, as in a standard sampler chain.
                sortDescending(kept, keptCount)
                var keptMass: Float = 0
                for j in 0..<keptCount { keptMass += kept[j].weight }
                var cum: Float = 0
                for j in 0..<keptCount { cum += kept[j].weight; if cum >= topP * keptMass { keptCount = j + 1; break } }
            }
        } else if usesTopP {
            keptCount = buffers.selectLeading(candidates, count: count, into: kept, goalCount: .max, goalMass: max(topP, 0) * total)
        } else {
            kept.update(from: candidates, count: count)
        }
        if minPFloor > 0 {
            // Min-p relative to the top weight (1), which always stays.
            var j = 0
            for i in 0..<keptCount where kept[i].weight >= minPFloor { kept[j] = kept[i]; j += 1 }
            keptCount = max(j, 1)
        }

        var sum: Double = 0
        for j in 0..<keptCount { sum += Double(kept[j].weight) }
        var r = rng.nextUnit() * sum
        for j in 0..<keptCount {
            r -= Double(kept[j].weight)
            if r < 0 { return result(Int(kept[j].id)) }
        }
        return result(Int(kept[max(keptCount - 1, 0)].id))
    }
}

/// A token and its unnormalised probability. Higher weight first; equal weights: lower id first.
struct Candidate {
    var weight: Float
    var id: Int32
    @inline(__always) static func > (a: Candidate, b: Candidate) -> Bool {
        a.weight > b.weight || (a.weight == b.weight && a.id < b.id)
    }
}

/// Sorts candidates by descending weight (ties: lower id first).
func sortDescending(_ a: UnsafeMutablePointer<Candidate>, _ n: Int) {
    var b = UnsafeMutableBufferPointer(start: a, count: n)
    b.sort { $0 > $1 }
}

/// Scratch memory of a sampler, grown on demand and reused for every token.
final class SamplerBuffers {
    private var w: UnsafeMutablePointer<Float>?, c: UnsafeMutablePointer<Candidate>?, k: UnsafeMutablePointer<Candidate>?
    private var s: UnsafeMutablePointer<Float>?
    private var i: UnsafeMutablePointer<Int32>?
    private var capacity = 0

    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        w?.deallocate(); c?.deallocate(); k?.deallocate(); s?.deallocate(); i?.deallocate()
        w = .allocate(capacity: n); c = .allocate(capacity: n); k = .allocate(capacity: n); s = .allocate(capacity: n)
        i = .allocate(capacity: n)
        capacity = n
    }

    func weights(_ n: Int) -> UnsafeMutablePointer<Float> { reserve(n); return w! }
    /// Logits / T, for the heuristic filters.
    func scaledLogits(_ n: Int) -> UnsafeMutablePointer<Float> { reserve(n); return s! }
    func candidates(_ n: Int) -> UnsafeMutablePointer<Candidate> { reserve(n); return c! }
    func kept(_ n: Int) -> UnsafeMutablePointer<Candidate> { reserve(n); return k! }
    /// Token ids of the candidates, before their weights are attached.
    func ids(_ n: Int) -> UnsafeMutablePointer<Int32> { reserve(n); return i! }

    /// Histogram of weights by their float bits (positive floats order like their bit patterns):
    /// 32 buckets per octave, so a bucket spans weights within a factor 2^(1/32).
    private var bucketCounts = [Int32](repeating: 0, count: 4096)
    private var bucketMasses = [Float](repeating: 0, count: 4096)
    private var boundary: [Candidate] = []

    /// Copies into `out` the smallest set of best candidates (by weight, ties to the lower id) that
    /// holds `goalCount` tokens or `goalMass` of weight, whichever comes first; returns its size
    /// (at least 1). Only the histogram bucket where the goal is reached is sorted; the kept set is
    /// otherwise unordered (a draw does not need order), so a 30,000-token nucleus costs two
    /// linear passes, not a sort.
    func selectLeading(_ c: UnsafeMutablePointer<Candidate>, count n: Int, into out: UnsafeMutablePointer<Candidate>,
                       goalCount: Int, goalMass: Float) -> Int {
        guard n > 0 else { return 0 }
        @inline(__always) func key(_ w: Float) -> Int { Int(w.bitPattern >> 18) }  // weights are in (0, 1]
        return bucketCounts.withUnsafeMutableBufferPointer { counts in
            bucketMasses.withUnsafeMutableBufferPointer { masses in
                counts.update(repeating: 0); masses.update(repeating: 0)
                for i in 0..<n { let b = key(c[i].weight); counts[b] += 1; masses[b] += c[i].weight }
                var b = key(1)
                var haveCount = 0
                var haveMass: Float = 0
                while b > 0 {
                    if haveCount + Int(counts[b]) >= goalCount || haveMass + masses[b] >= goalMass { break }
                    haveCount += Int(counts[b]); haveMass += masses[b]
                    b -= 1
                }
                var m = 0
                boundary.removeAll(keepingCapacity: true)
                for i in 0..<n {
                    let kb = key(c[i].weight)
                    if kb > b { out[m] = c[i]; m += 1 } else if kb == b { boundary.append(c[i]) }
                }
                boundary.sort { $0 > $1 }
                for x in boundary {
                    if m >= goalCount || haveMass >= goalMass { break }
                    out[m] = x; m += 1; haveMass += x.weight
                }
                if m == 0, let first = boundary.first { out[0] = first; m = 1 }
                return m
            }
        }
    }

    deinit { w?.deallocate(); c?.deallocate(); k?.deallocate(); s?.deallocate(); i?.deallocate() }
}
