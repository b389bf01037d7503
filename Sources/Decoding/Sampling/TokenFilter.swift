import Foundation

/// A heuristic truncation rule of the adaptive-decoding literature (spec §8), applied to the
/// temperature-scaled distribution p in place of top-k / top-p / min-p, before the seeded draw.
/// Each keeps at least the most probable token.
public enum TokenFilter: Sendable, Equatable {
    /// top-n-sigma: keep l_i >= max(l) - n * std(l) (std over the whole vocabulary; the rule is the
    /// same on the raw and the temperature-scaled logits).
    case topNSigma(n: Float)
    /// Locally typical sampling: tokens in order of |-ln p_i - H| (H the entropy of p), kept until
    /// their mass reaches `mass`.
    case typical(mass: Float)
    /// Epsilon sampling: keep p_i > epsilon.
    case epsilon(Float)
    /// Eta sampling: keep p_i > min(epsilon, sqrt(epsilon) * e^-H).
    case eta(epsilon: Float)
    /// Mirostat v2: keep tokens whose surprise -log2 p_i is at most mu (mu starts at 2 tau); after
    /// the draw, mu <- mu - learningRate * (s - tau), s the drawn token's surprise under the kept,
    /// renormalised distribution (as the authors' code and llama.cpp do).
    case mirostat(tau: Float, learningRate: Float)

    /// The ids kept from p (a probability vector over the vocabulary), in ascending id order.
    /// `logits` are the scaled logits p came from (top-n-sigma reads them); `entropy` is H(p) in
    /// nats; `mu` is mirostat's running threshold.
    public func kept(probabilities p: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>,
                     entropy: Double, mu: Float) -> [Int32] {
        let n = p.count
        guard n > 0 else { return [] }
        var top = 0
        for i in 1..<n where p[i] > p[top] { top = i }
        func threshold(_ keep: (Int) -> Bool) -> [Int32] {
            var out = [Int32]()
            for i in 0..<n where i == top || keep(i) { out.append(Int32(i)) }
            return out
        }
        switch self {
        case .topNSigma(let k):
            var sum = 0.0, sumSq = 0.0, finite = 0
            for i in 0..<n where logits[i].isFinite { let x = Double(logits[i]); sum += x; sumSq += x * x; finite += 1 }
            let mean = sum / Double(max(finite, 1))
            let sigma = max(0, sumSq / Double(max(finite, 1)) - mean * mean).squareRoot()
            let floor = Double(logits[top]) - Double(k) * sigma
            return threshold { Double(logits[$0]) >= floor }
        case .epsilon(let e):
            return threshold { p[$0] > e }
        case .eta(let e):
            let cut = min(Double(e), Double(e).squareRoot() * exp(-entropy))
            return threshold { Double(p[$0]) > cut }
        case .mirostat:
            // -log2 p <= mu  <=>  p >= 2^-mu: a comparison per token instead of a logarithm.
            let floor = Float(exp2(-Double(mu)))
            return threshold { p[$0] > 0 && p[$0] >= floor }
        case .typical(let mass):
            // Tokens in order of |-ln p - H| until their mass reaches `mass`. Only tokens with
            // surprisal below H + reach are sorted; the result is exact once the last token taken is
            // nearer to H than `reach` (every token left out is farther), else the reach doubles.
            var reach = 4.0
            while true {
                let floor = Float(exp(-(entropy + reach)))
                var order = [(distance: Double, id: Int32)]()
                for i in 0..<n where p[i] > 0 && p[i] >= floor { order.append((abs(-log(Double(p[i])) - entropy), Int32(i))) }
                order.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id) }
                var cum = 0.0
                var out = [Int32]()
                var last = 0.0
                for (d, id) in order {
                    out.append(id); cum += Double(p[Int(id)]); last = d
                    if cum >= Double(mass) { break }
                }
                if (cum >= Double(mass) && last < reach) || floor == 0 || order.count == n { return out.sorted() }
                reach *= 2
            }
        }
    }

    /// The method string's parameters, for names and files ("typical:0.95").
    public var description: String {
        switch self {
        case .topNSigma(let n): return "top-n-sigma:\(n)"
        case .typical(let m): return "typical:\(m)"
        case .epsilon(let e): return "epsilon:\(e)"
        case .eta(let e): return "eta:\(e)"
        case .mirostat(let t, let r): return "mirostat:\(t),\(r)"
        }
    }
}

/// Entropy of softmax(logits / temperature) in nats, exactly (one pass in double precision):
/// H = ln Z - sum p_i s_i with s_i = (l_i - max) / T.
public func softmaxEntropy(_ l: UnsafeBufferPointer<Float>, temperature t: Float = 1) -> Double {
    guard let m = l.max(), m.isFinite else { return 0 }
    let inv = 1 / Double(t)
    var z = 0.0, weighted = 0.0
    for x in l where x.isFinite {
        let s = (Double(x) - Double(m)) * inv
        let e = exp(s)
        z += e; weighted += e * s
    }
    return log(z) - weighted / z
}
