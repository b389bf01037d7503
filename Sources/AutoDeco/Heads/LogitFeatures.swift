import Foundation
import Kernels

/// The four statistics of the top-p head's "enhanced features", computed from
/// q = softmax(logits / (T + 1e-8)) over the full LM-head width V, exactly as the
/// official module does:
/// max_prob = max q; entropy = -sum q ln(q + 1e-8); prob_var = sum (q - 1/V)^2 / (V - 1)
/// (torch.var, unbiased); top5_sum = sum of the 5 largest q.
public struct LogitFeatures: Sendable, Equatable {
    public var maxProb: Float
    public var entropy: Float
    public var probVariance: Float
    public var top5Sum: Float
    /// The largest logit and Z = sum exp((l - max) / (T + 1e-8)), whose terms are left in the scratch buffer.
    public var maxLogit: Float = 0
    public var partition: Float = 0

    public static let zero = LogitFeatures(maxProb: 0, entropy: 0, probVariance: 0, top5Sum: 0)

    public static func == (a: LogitFeatures, b: LogitFeatures) -> Bool {
        a.maxProb == b.maxProb && a.entropy == b.entropy && a.probVariance == b.probVariance && a.top5Sum == b.top5Sum
    }

    public init(maxProb: Float, entropy: Float, probVariance: Float, top5Sum: Float) {
        self.maxProb = maxProb; self.entropy = entropy; self.probVariance = probVariance; self.top5Sum = top5Sum
    }

    /// A top-5 scan (skipped when the caller already has the five largest logits, `top`), then two
    /// SIMD passes, split over `pool`'s threads when given: exp (kept in `scratch`, which must hold
    /// logits.count floats; it may be the logits' own memory, which they then replace) with its
    /// sum, then the variance and entropy sums. `inline`: the pool's
    /// parts run one after another on the calling thread (the same sums, to the bit).
    public init(logits l: UnsafeBufferPointer<Float>, temperature t: Float, scratch: UnsafeMutablePointer<Float>,
                pool: ThreadPool? = nil, top known: Top5? = nil, inline: Bool = false) {
        let n = l.count
        guard n > 1, let base = l.baseAddress else { self = .zero; return }
        let parts = pool?.threadCount ?? 1
        func split(_ body: (Int, Range<Int>) -> Void) {
            guard let pool else { body(0, 0..<n); return }
            pool.run(inline: inline) { k in body(k, Self.slice(n, part: k, of: parts)) }
        }
        // The top five logits (softmax is monotonic: the top five q are theirs); the first is the max.
        var top = Top5()
        if let known { top = known } else {
            withUnsafeTemporaryAllocation(of: Top5.self, capacity: parts) { tops in
                split { k, r in tops.initializeElement(at: k, to: VectorOps.top5(base + r.lowerBound, n: r.count)) }
                for k in 0..<parts { top.merge(tops[k]) }
            }
        }
        let m = top.v0
        let invT = 1 / (t + 1e-8)
        // Pass 1: e_i = exp((l_i - m) / T), stored, and their sum Z. Pass 2: the variance around the
        // mean 1/V (as torch's two-pass var; sum q^2 - 1/V would cancel on flat distributions) and
        // sum q ln(q + 1e-8). Both loops live in Kernels, where the SIMD exp and log inline.
        var z: Float = 0, sumSq: Float = 0, sumEnt: Float = 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * parts) { sums in
            split { k, r in sums[k] = VectorOps.storeExp(base + r.lowerBound, n: r.count, shift: m, scale: invT, into: scratch + r.lowerBound) }
            for k in 0..<parts { z += sums[k] }
            let invZ = 1 / z
            split { k, r in
                let moments = VectorOps.probabilityMoments(scratch + r.lowerBound, n: r.count, invZ: invZ, mean: 1 / Float(n), eps: 1e-8)
                sums[k] = moments.sumSquaredDeviation; sums[parts + k] = moments.sumQLogQ
            }
            for k in 0..<parts { sumSq += sums[k]; sumEnt += sums[parts + k] }
        }
        maxLogit = m
        partition = z
        maxProb = 1 / z  // e of the max is exp(0) = 1
        entropy = -sumEnt
        probVariance = sumSq / Float(n - 1)
        // Fewer than five logits leave -inf entries, whose exp is 0.
        let e = { (v: Float) in expf((v - m) * invT) }
        top5Sum = (e(top.v0) + e(top.v1) + e(top.v2) + e(top.v3) + e(top.v4)) / z
    }

    /// Part k of `parts` of 0..<n, cut on multiples of 16 (the SIMD passes' stride).
    public static func slice(_ n: Int, part k: Int, of parts: Int) -> Range<Int> {
        ThreadPool.part(k, of: parts, count: n, unit: 16)
    }
}
