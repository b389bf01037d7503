import Foundation
import Kernels

/// Reusable buffers of the soft top-p loss (one per thread): probabilities and the sort order.
public final class LossWorkspace {
    var q = [Double](), order = [Int32](), orderScratch = [Int32](), keys = [UInt32]()
    public init() {}
    func reserve(_ n: Int) {
        if q.count < n {
            q = [Double](repeating: 0, count: n); order = [Int32](repeating: 0, count: n)
            orderScratch = order; keys = [UInt32](repeating: 0, count: 2 * n)
        }
    }
}

/// The paper's two training losses for one position, with their gradients with respect to the
/// predicted temperature T and top-p P (spec section 4), in double precision. Inputs: the frozen
/// base logits z (no gradient), the gold token y, and w = softmax(z)[y] (the base probability of
/// the gold token, detached).
public enum AutoDecoLoss {
    /// Steepness of the soft top-p mask.
    public static let alpha = 30.0

    /// softmax(z)[y], the "dynamic fine-tuning" weight of a position.
    public static func baseProbability(logits z: UnsafeBufferPointer<Float>, label y: Int) -> Double {
        let m = Double(z.max() ?? 0)
        var s = 0.0
        for v in z { s += exp(Double(v) - m) }
        return exp(Double(z[y]) - m) / s
    }

    /// w * CrossEntropy(z / T', y) with T' = max(T, 0.01); returns the loss and d loss / d T.
    public static func temperature(logits z: UnsafeBufferPointer<Float>, label y: Int, temperature t: Double,
                                   weight w: Double) -> (loss: Double, dT: Double) {
        let tc = max(t, 0.01)
        let m = Double(z.max() ?? 0)
        var s = 0.0, sz = 0.0
        for v in z {
            let e = exp((Double(v) - m) / tc)
            s += e; sz += e * Double(v)
        }
        let ce = log(s) + m / tc - Double(z[y]) / tc   // logsumexp(z / T') - z_y / T'
        let meanZ = sz / s                               // E_q[z], q = softmax(z / T')
        // d CE / d T' = (z_y - E_q[z]) / T'^2; the clamp passes no gradient below 0.01.
        let dT = t > 0.01 ? w * (Double(z[y]) - meanZ) / (tc * tc) : 0
        return (w * ce, dT)
    }

    /// w * -ln(q~[y] + 1e-9) where q = softmax(z / max(T, 1e-8)), c the inclusive cumulative sum of q
    /// in descending order, m = exp(-alpha ReLU(c - P)), q~ = q m / (sum q m + 1e-9). Returns the
    /// loss and its derivatives with respect to T and P (T is not detached here).
    public static func topP(logits z: UnsafeBufferPointer<Float>, label y: Int, temperature t: Double, topP p: Double,
                            weight w: Double, workspace: LossWorkspace = LossWorkspace()) -> (loss: Double, dT: Double, dP: Double) {
        let n = z.count
        let tc = max(t, 1e-8)
        let mx = Double(z.max() ?? 0)
        workspace.reserve(n)
        var s = 0.0
        var meanZ = 0.0
        workspace.q.withUnsafeMutableBufferPointer { q in
            for i in 0..<n { q[i] = exp((Double(z[i]) - mx) / tc); s += q[i] }
            for i in 0..<n { q[i] /= s; meanZ += q[i] * Double(z[i]) }
        }
        let q = workspace.q
        // dq_i/dT = q_i (z_i - E_q[z]) * (-1/T^2) ... = q_i (E_q[z] - z_i) / T^2 (zero when clamped).
        let scale = t > 1e-8 ? 1 / (tc * tc) : 0
        // Descending probability = descending logit (T > 0); ties in index order, as a stable sort.
        workspace.order.withUnsafeMutableBufferPointer { o in
            workspace.orderScratch.withUnsafeMutableBufferPointer { sc in
                workspace.keys.withUnsafeMutableBufferPointer { k in
                    RadixSort.descending(z.baseAddress!, count: n, order: o.baseAddress!, scratch: sc.baseAddress!, keys: k.baseAddress!)
                }
            }
        }
        var sumQM = 0.0, dSdT = 0.0, dSdP = 0.0
        var c = 0.0, dc = 0.0
        var my = 0.0, dmyT = 0.0, dmyP = 0.0, dqyT = 0.0
        for rank in 0..<n {
            let i = Int(workspace.order[rank])
            let dqi = q[i] * (meanZ - Double(z[i])) * scale
            c += q[i]; dc += dqi
            let excess = c - p
            let mask = excess > 0 ? exp(-alpha * excess) : 1
            let dmT = excess > 0 ? -alpha * mask * dc : 0
            let dmP = excess > 0 ? alpha * mask : 0
            sumQM += q[i] * mask
            dSdT += dqi * mask + q[i] * dmT
            dSdP += q[i] * dmP
            if i == y { my = mask; dmyT = dmT; dmyP = dmP; dqyT = dqi }
        }
        let den = sumQM + 1e-9
        let qt = q[y] * my / den
        let loss = -w * log(qt + 1e-9)
        // d q~_y = (dq_y m_y + q_y dm_y) / den - q_y m_y dS / den^2
        let dqtT = (dqyT * my + q[y] * dmyT) / den - q[y] * my * dSdT / (den * den)
        let dqtP = (q[y] * dmyP) / den - q[y] * my * dSdP / (den * den)
        let g = -w / (qt + 1e-9)
        return (loss, g * dqtT, g * dqtP)
    }
}

extension AutoDecoLoss {
    /// Whether the gold token is inside the hard top-p nucleus at temperature T: the probability
    /// mass ranked before it (higher logit, or equal logit and lower index) is below P.
    public static func nucleusContains(logits z: UnsafeBufferPointer<Float>, label y: Int, temperature t: Double, topP p: Double) -> Bool {
        if p >= 1 { return true }
        let tc = max(t, 1e-8), mx = Double(z.max() ?? 0), zy = z[y]
        var total = 0.0, before = 0.0
        for i in 0..<z.count {
            let e = exp((Double(z[i]) - mx) / tc)
            total += e
            if z[i] > zy || (z[i] == zy && i < y) { before += e }
        }
        return before / total < p
    }
}
