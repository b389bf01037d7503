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

    /// A top-5 scan, then two SIMD passes, split over `pool`'s threads when given: exp (kept in
    /// `scratch`, which must hold logits.count floats; it may be the logits' own memory, which
    /// they then replace) with its sum, then the variance and entropy sums. (The AutoDeco
    /// controller runs the same `Passes` inside parallel regions of its own.)
    public init(logits l: UnsafeBufferPointer<Float>, temperature t: Float, scratch: UnsafeMutablePointer<Float>,
                pool: ThreadPool? = nil) {
        guard l.count > 1, let base = l.baseAddress else { self = .zero; return }
        let parts = pool?.threadCount ?? 1
        func split(_ body: (Int) -> Void) {
            if let pool { pool.run(body) } else { body(0) }
        }
        self = withUnsafeTemporaryAllocation(of: Float.self, capacity: Passes.sumsCount(parts: parts)) { sums in
            let passes = Passes(logits: base, count: l.count, scratch: scratch, parts: parts, sums: sums.baseAddress!)
            // The top five logits (softmax is monotonic: the top five q are theirs); the first is the max.
            let top = withUnsafeTemporaryAllocation(of: Top5.self, capacity: parts) { tops in
                split { k in tops.initializeElement(at: k, to: passes.top5(part: k)) }
                return Top5.merged(tops)
            }
            split { k in passes.exponentials(part: k, maxLogit: top.v0, temperature: t) }
            split { k in passes.moments(part: k) }
            return passes.features(top: top, temperature: t)
        }
    }

    /// The passes over the vocabulary that make the features, a slice of it per part, for callers
    /// that run them inside parallel regions of their own: every part's `exponentials`, then
    /// every part's `moments`, then `features`. The parts' sums are kept in `sums` and added in
    /// the order of the parts, so the result does not depend on which thread ran which part.
    public struct Passes {
        public let logits: UnsafePointer<Float>
        public let count: Int
        public let parts: Int
        /// Where the exponentials go: [count] (possibly the logits themselves).
        public let out: UnsafeMutablePointer<Float>
        /// [parts] sums of exponentials, [parts] squared deviations, [parts] q ln q.
        let sums: UnsafeMutablePointer<Float>

        /// How many floats `sums` must hold.
        public static func sumsCount(parts: Int) -> Int { 3 * parts }

        public init(logits: UnsafePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>, parts: Int, sums: UnsafeMutablePointer<Float>) {
            self.logits = logits; self.count = count; out = scratch; self.parts = parts; self.sums = sums
        }

        public func slice(_ k: Int) -> Range<Int> { LogitFeatures.slice(count, part: k, of: parts) }

        /// The five largest logits of part k (merge the parts' with `Top5.merged`).
        public func top5(part k: Int) -> Top5 {
            let r = slice(k)
            return VectorOps.top5(logits + r.lowerBound, n: r.count)
        }

        /// e_i = exp((l_i - max) / (T + 1e-8)) over part k, stored, with their sum; `prefetching`:
        /// memory to bring into the caches meanwhile (see `VectorOps.storeExp`).
        public func exponentials(part k: Int, maxLogit m: Float, temperature t: Float, prefetching: UnsafeRawBufferPointer? = nil) {
            let r = slice(k)
            sums[k] = VectorOps.storeExp(logits + r.lowerBound, n: r.count, shift: m, scale: 1 / (t + 1e-8),
                                         into: out + r.lowerBound, prefetching: prefetching)
        }

        /// `exponentials` and the part's five largest logits in one pass, for a caller that knows
        /// the largest logit beforehand (the LM head's kernel took it): the top-5 scan, the first
        /// pass over the logits after the forward pass, was 4-5 µs per thread on its own.
        public func exponentialsAndTop5(part k: Int, maxLogit m: Float, temperature t: Float,
                                        prefetching: UnsafeRawBufferPointer? = nil) -> Top5 {
            let r = slice(k)
            let (sum, top) = VectorOps.storeExpAndTop5(logits + r.lowerBound, n: r.count, shift: m, scale: 1 / (t + 1e-8),
                                                       into: out + r.lowerBound, prefetching: prefetching)
            sums[k] = sum
            return top
        }

        /// Z = sum e_i, once every part's exponentials are done.
        public var partition: Float {
            var z: Float = 0
            for k in 0..<parts { z += sums[k] }
            return z
        }

        /// The variance around the mean 1/V (as torch's two-pass var; sum q^2 - 1/V would cancel
        /// on flat distributions) and sum q ln(q + 1e-8) over part k, once every part's
        /// exponentials are done. Both loops live in Kernels, where the SIMD exp and log inline.
        /// `prefetching`: memory to bring into the caches meanwhile.
        public func moments(part k: Int, prefetching: UnsafeRawBufferPointer? = nil) {
            let r = slice(k)
            let m = VectorOps.probabilityMoments(out + r.lowerBound, n: r.count, invZ: 1 / partition, mean: 1 / Float(count), eps: 1e-8,
                                                 prefetching: prefetching)
            sums[parts + k] = m.sumSquaredDeviation; sums[2 * parts + k] = m.sumQLogQ
        }

        /// The statistics, once every part's moments are done; `shift`: the exponentials' (the
        /// largest logit, top.v0, unless the caller's maximum differed from it: the statistics
        /// do not depend on the shift, beyond float rounding, while its exponentials stay finite).
        public func features(top: Top5, temperature t: Float, shift: Float? = nil) -> LogitFeatures {
            var sumSq: Float = 0, sumEnt: Float = 0
            for k in 0..<parts { sumSq += sums[parts + k]; sumEnt += sums[2 * parts + k] }
            let z = partition, m = shift ?? top.v0, invT = 1 / (t + 1e-8)
            // Fewer than five logits leave -inf entries, whose exp is 0.
            let e = { (v: Float) in expf((v - m) * invT) }
            var f = LogitFeatures(maxProb: e(top.v0) / z,  // e of the max is exp(0) = 1 for the usual shift
                                  entropy: -sumEnt, probVariance: sumSq / Float(count - 1),
                                  top5Sum: (e(top.v0) + e(top.v1) + e(top.v2) + e(top.v3) + e(top.v4)) / z)
            f.maxLogit = m
            f.partition = z
            return f
        }
    }

    /// Part k of `parts` of 0..<n, cut on multiples of 16 (the SIMD passes' stride).
    public static func slice(_ n: Int, part k: Int, of parts: Int) -> Range<Int> {
        ThreadPool.part(k, of: parts, count: n, unit: 16)
    }
}
