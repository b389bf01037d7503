import Foundation
import Kernels

/// A token and its log-probability.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) { self.id = id; self.logprob = logprob }
}

public enum TopLogprobs {
    /// The `k` most probable tokens of softmax(logits), most probable first (ties: lower id
    /// first), with their log-probabilities. One pass with a k-entry insertion list (k is at most
    /// a few tens, as the OpenAI API allows 20) and one pass for the log normaliser, which is
    /// also returned (so the chosen token's log-probability can be given on the same footing).
    public static func select(_ logits: UnsafeBufferPointer<Float>, k: Int) -> (top: [TokenLogprob], logZ: Float) {
        guard k > 0, let base = logits.baseAddress, !logits.isEmpty else { return ([], .nan) }
        let n = logits.count, k = min(k, n)
        var best = [(value: Float, id: Int32)]()
        best.reserveCapacity(k + 1)
        for i in 0..<n {
            let v = logits[i]
            if best.count == k, !(v > best[k - 1].value) { continue }
            var j = best.count
            while j > 0 && v > best[j - 1].value { j -= 1 }
            best.insert((v, Int32(i)), at: j)
            if best.count > k { best.removeLast() }
        }
        let maxLogit = best[0].value
        let logZ = VectorOps.logSumExp(base, n: n, max: maxLogit)
        return (best.map { TokenLogprob(id: $0.id, logprob: $0.value - logZ) }, logZ)
    }
}
