import Foundation
import Kernels

extension Sampler {
    /// The heuristic-filter path: p = softmax(l / T) in full, the filter's kept set, a seeded draw
    /// over it renormalised (ids in ascending order, so the draw does not depend on sorting).
    /// Exact rather than clever: a few passes over the vocabulary, ~0.2 ms a token (typical
    /// sampling sorts the candidates with p > 0).
    mutating func sampleFiltered(_ l: UnsafeBufferPointer<Float>, filter: TokenFilter, temperature: Float, maxLogit: Float) -> Int {
        let n = l.count
        let w = buffers.weights(n)
        let scaled = buffers.scaledLogits(n)
        let invT = 1 / temperature
        var total = 0.0
        for i in 0..<n {
            scaled[i] = l[i] * invT
            let e = expf((l[i] - maxLogit) * invT)
            w[i] = e; total += Double(e)
        }
        let invTotal = Float(1 / total)
        for i in 0..<n { w[i] *= invTotal }
        let p = UnsafeBufferPointer(start: w, count: n)
        let entropy: Double
        switch filter {
        case .typical, .eta: entropy = softmaxEntropy(UnsafeBufferPointer(start: scaled, count: n))
        default: entropy = 0
        }
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
