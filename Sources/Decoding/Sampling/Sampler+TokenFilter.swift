import Foundation
import Kernels

extension Sampler {
    /// The heuristic-filter path: p = softmax(l / T) in full, the filter's kept set, a seeded draw
    /// over it renormalised (ids in ascending order, so the draw does not depend on sorting).
    /// A few passes over the vocabulary; typical sampling sorts only the tokens whose
    /// surprisal is within reach of the entropy.
    mutating func sampleFiltered(_ l: UnsafeBufferPointer<Float>, filter: TokenFilter, temperature: Float, maxLogit: Float) -> Int {
        let n = l.count
        let w = buffers.weights(n)
        let scaled = buffers.scaledLogits(n)
        let invT = 1 / temperature
        // One pass: the scaled logits s_i, e_i = exp(s_i - s_max), Z = sum e_i and sum e_i (s_i - s_max),
        // whence H = ln Z - sum e_i (s_i - s_max) / Z without a second pass of logarithms.
        var total = 0.0, weighted = 0.0
        for i in 0..<n {
            scaled[i] = l[i] * invT
            let x = (l[i] - maxLogit) * invT
            let e = expf(x)
            w[i] = e; total += Double(e)
            if e > 0 { weighted += Double(e) * Double(x) }
        }
        let invTotal = Float(1 / total)
        for i in 0..<n { w[i] *= invTotal }
        let p = UnsafeBufferPointer(start: w, count: n)
        let entropy = log(total) - weighted / total
        if case .mirostat(let tau, _) = filter, mirostatMu == nil { mirostatMu = 2 * tau }
        let kept = filter.kept(probabilities: p, logits: UnsafeBufferPointer(start: scaled, count: n), entropy: entropy, mu: mirostatMu ?? 0)
        var mass = 0.0
        for id in kept { mass += Double(p[Int(id)]) }
        var r = rng.nextUnit() * mass
        var chosen = Int(kept.last ?? 0)
        for id in kept {
            r -= Double(p[Int(id)])
            if r < 0 { chosen = Int(id); break }
        }
        if case .mirostat(let tau, let rate) = filter, let mu = mirostatMu {
            let surprise = -log2(Double(p[chosen]) / mass)
            mirostatMu = mu - rate * (Float(surprise) - tau)
        }
        return chosen
    }
}
