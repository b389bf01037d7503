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

    public static let zero = LogitFeatures(maxProb: 0, entropy: 0, probVariance: 0, top5Sum: 0)

    public init(maxProb: Float, entropy: Float, probVariance: Float, top5Sum: Float) {
        self.maxProb = maxProb; self.entropy = entropy; self.probVariance = probVariance; self.top5Sum = top5Sum
    }

    /// A scalar top-5 scan, then two SIMD passes: exp (kept in `scratch`, which must hold
    /// logits.count floats) with its sum, then the variance and entropy sums.
    public init(logits l: UnsafeBufferPointer<Float>, temperature t: Float, scratch: UnsafeMutablePointer<Float>) {
        let n = l.count
        guard n > 1, let base = l.baseAddress else { self = .zero; return }
        // Top five logits (softmax is monotonic: the top five q are theirs), t0 the max. Kept in
        // registers: the insertion branch is almost never taken after the first few hundred logits.
        var t0 = -Float.infinity, t1 = t0, t2 = t0, t3 = t0, t4 = t0
        for i in 0..<n {
            let v = l[i]
            if v > t4 {
                if v > t0 { t4 = t3; t3 = t2; t2 = t1; t1 = t0; t0 = v }
                else if v > t1 { t4 = t3; t3 = t2; t2 = t1; t1 = v }
                else if v > t2 { t4 = t3; t3 = t2; t2 = v }
                else if v > t3 { t4 = t3; t3 = v }
                else { t4 = v }
            }
        }
        let m = t0
        let invT = 1 / (t + 1e-8)
        // Pass 1: e_i = exp((l_i - m) / T), stored, and their sum Z. Pass 2: the variance around the
        // mean 1/V (as torch's two-pass var; sum q^2 - 1/V would cancel on flat distributions) and
        // sum q ln(q + 1e-8). Both loops live in Kernels, where the SIMD exp and log inline.
        let z = VectorOps.storeExp(base, n: n, shift: m, scale: invT, into: scratch)
        let invZ = 1 / z
        let (sumSq, sumEnt) = VectorOps.probabilityMoments(scratch, n: n, invZ: invZ, mean: 1 / Float(n), eps: 1e-8)
        maxProb = invZ  // e of the max is exp(0) = 1
        entropy = -sumEnt
        probVariance = sumSq / Float(n - 1)
        top5Sum = [t0, t1, t2, t3, t4].prefix(min(5, n)).reduce(Float(0)) { $0 + expf(($1 - m) * invT) } * invZ
    }
}
