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

    /// Two SIMD passes over the logits after a scalar max/top-5 scan: exp (kept in `scratch`,
    /// which must hold logits.count floats) and sum, then the q^2 and q ln(q + eps) sums.
    public init(logits l: UnsafeBufferPointer<Float>, temperature t: Float, scratch: UnsafeMutablePointer<Float>) {
        let n = l.count
        guard n > 1, let base = l.baseAddress else { self = .zero; return }
        // Top five logits (softmax is monotonic: the top five q are theirs), the first being the max.
        var top = [Float](repeating: -.infinity, count: 5)
        for i in 0..<n {
            let v = l[i]
            if v > top[4] {
                var j = 4
                while j > 0 && top[j - 1] < v { top[j] = top[j - 1]; j -= 1 }
                top[j] = v
            }
        }
        let m = top[0]
        let invT = 1 / (t + 1e-8)
        // Pass 1: e_i = exp((l_i - m) / T), stored, and Z.
        let shift = SIMD8<Float>(repeating: m), scale = SIMD8<Float>(repeating: invT)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let e0 = expSIMD((UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self) - shift) * scale)
            let e1 = expSIMD((UnsafeRawPointer(base + i + 8).loadUnaligned(as: SIMD8<Float>.self) - shift) * scale)
            UnsafeMutableRawPointer(scratch + i).storeBytes(of: e0, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(scratch + i + 8).storeBytes(of: e1, as: SIMD8<Float>.self)
            acc0 += e0; acc1 += e1
            i += 16
        }
        var z = (acc0 + acc1).sum()
        while i < n { scratch[i] = expSIMD(SIMD8(repeating: (l[i] - m) * invT))[0]; z += scratch[i]; i += 1 }
        let invZ = 1 / z
        // Pass 2: sum (q - 1/V)^2 and sum q ln(q + 1e-8). The variance is taken around the mean
        // 1/V directly (as torch's two-pass var does): sum q^2 - 1/V would cancel catastrophically
        // on flat distributions.
        let mean = 1 / Float(n)
        let iz = SIMD8<Float>(repeating: invZ), eps = SIMD8<Float>(repeating: 1e-8), mu = SIMD8<Float>(repeating: mean)
        var sq = SIMD8<Float>(), ent = SIMD8<Float>()
        i = 0
        while i + 8 <= n {
            let q = UnsafeRawPointer(scratch + i).loadUnaligned(as: SIMD8<Float>.self) * iz
            let d = q - mu
            sq.addProduct(d, d)
            ent.addProduct(q, logSIMD(q + eps))
            i += 8
        }
        var sumSq = sq.sum(), sumEnt = ent.sum()
        while i < n {
            let q = scratch[i] * invZ
            sumSq += (q - mean) * (q - mean)
            sumEnt += q * logSIMD(SIMD8(repeating: q + 1e-8))[0]
            i += 1
        }
        maxProb = invZ  // e of the max is exp(0) = 1
        entropy = -sumEnt
        probVariance = sumSq / Float(n - 1)
        top5Sum = top.prefix(min(5, n)).reduce(Float(0)) { $0 + expSIMD(SIMD8(repeating: ($1 - m) * invT))[0] } * invZ
    }
}
