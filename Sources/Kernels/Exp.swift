import CKernels
import Foundation

/// Vectorised exp: the sampler takes exp of every logit (49k-150k per token), and libm's
/// scalar `expf` would cost as much as a tenth of a decode step.
///
/// Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r
/// (Cephes' expf coefficients, relative error ~2e-7), and 2^n built in the exponent bits.
/// Domain: x <= 88. Inputs below -87 (and -inf) give exactly 0, so masked logits stay
/// impossible. No float clamps or SIMD masks: measured here, `pointwiseMax` doubles and a
/// `.<` mask with `replacing` multiplies by 25 the cost of the whole function; the
/// underflow is zeroed with integer bit operations instead.
@inline(__always)
public func expSIMD(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Adding 1.5 * 2^23 rounds x log2(e) to an integer n, kept in the low mantissa bits of y.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let y = magic.addingProduct(x, SIMD8(repeating: 1.442_695_04))
    let n = y - magic
    var r = x.addingProduct(n, SIMD8(repeating: -0.693_359_375))
    r = r.addingProduct(n, SIMD8(repeating: 2.121_944_40e-4))
    var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
    p = p * r + SIMD8(repeating: 1.398_199_950_7e-3)
    p = p * r + SIMD8(repeating: 8.333_451_907_3e-3)
    p = p * r + SIMD8(repeating: 4.166_579_589_4e-2)
    p = p * r + SIMD8(repeating: 1.666_666_545_9e-1)
    p = p * r + SIMD8(repeating: 5.000_000_120_1e-1)
    let er = (p * r * r + r) + SIMD8(repeating: 1)
    let yBits = unsafeBitCast(y, to: SIMD8<Int32>.self)
    let twoN = unsafeBitCast((yBits &- 0x4B40_0000 &+ 127) &<< 23, to: SIMD8<Float>.self)
    // x < -87 exactly when x is negative and its bit pattern, as an integer, exceeds that of -87:
    // then both (bits(-87) - bits(x)) and bits(x) have the sign bit set.
    let xBits = unsafeBitCast(x, to: SIMD8<Int32>.self)
    let limit = unsafeBitCast(SIMD8<Float>(repeating: -87), to: SIMD8<Int32>.self)
    let underflow = ((limit &- xBits) & xBits) &>> 31
    return unsafeBitCast(unsafeBitCast(er * twoN, to: SIMD8<Int32>.self) & ~underflow, to: SIMD8<Float>.self)
}

extension VectorOps {
    /// Whether `storeExp` (the vocabulary's exponentials, and softmax, so attention too) and
    /// `probabilityMoments` run their AVX-512 versions (CKernels/exp512.c): on CPUs with AVX-512F,
    /// unless `AUTODECO_KERNELS` asks for the AVX2 or portable path.
    public static let passesUseAVX512 = cpuHasAVX512F && (IntegerKernelChoice.requested ?? .vnni) == .vnni
    /// Whether this CPU has AVX-512F (the C passes' requirement).
    public static let cpuHasAVX512F = ad_kernels_have_avx512f() != 0

    /// ln sum_i exp(x[i]), given max = the largest x[i]: the softmax normaliser of log-probabilities.
    public static func logSumExp(_ x: UnsafePointer<Float>, n: Int, max: Float) -> Float {
        max + logf(sumExp(x, n: n, shift: max, scale: 1))
    }

    /// sum_i exp((x[i] - shift) * scale) over n floats.
    @inline(__always)
    public static func sumExp(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let s = SIMD8<Float>(repeating: shift), k = SIMD8<Float>(repeating: scale)
        var i = 0
        while i + 16 <= n {
            acc0 += expSIMD((loadSIMD8(x + i) - s) * k)
            acc1 += expSIMD((loadSIMD8(x + i + 8) - s) * k)
            i += 16
        }
        var total = (acc0 + acc1).sum()
        if i < n { total += tailSumExp(x + i, n - i, shift: shift, scale: scale) }
        return total
    }

    /// out[i] = exp((x[i] - shift) * scale) for i in 0..<n; returns their sum. AVX-512 (C) when
    /// `passesUseAVX512`, else two vectors per iteration, as in `sumExp`: the polynomial is a chain of
    /// dependent steps, and two chains in flight can overlap. `prefetching`: memory to ask for
    /// meanwhile, a little every iteration (what the caller reads next: its lines arrive while
    /// the polynomials keep the core busy).
    public static func storeExp(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float,
                                into out: UnsafeMutablePointer<Float>, prefetching ahead: UnsafeRawBufferPointer? = nil) -> Float {
        if passesUseAVX512 { return ad_store_exp_avx512(x, Int32(n), shift, scale, out, ahead?.baseAddress, ahead?.count ?? 0) }
        return storeExpPortable(x, n: n, shift: shift, scale: scale, into: out, prefetching: ahead)
    }

    /// `storeExp` that also returns the five largest x, for a caller that knows the shift (the
    /// largest x) beforehand: one pass over x with AVX-512 (C), else the top-5 scan, then
    /// `storeExp`.
    public static func storeExpAndTop5(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float,
                                       into out: UnsafeMutablePointer<Float>, prefetching ahead: UnsafeRawBufferPointer? = nil) -> (sum: Float, top: Top5) {
        guard passesUseAVX512 else {
            let top = top5(x, n: n)
            return (storeExpPortable(x, n: n, shift: shift, scale: scale, into: out, prefetching: ahead), top)
        }
        var t = (-Float.infinity, -Float.infinity, -Float.infinity, -Float.infinity, -Float.infinity)
        let sum = withUnsafeMutableBytes(of: &t) { b in
            ad_store_exp_top5_avx512(x, Int32(n), shift, scale, out, ahead?.baseAddress, ahead?.count ?? 0,
                                     b.baseAddress!.assumingMemoryBound(to: Float.self))
        }
        var top = Top5()
        top.v0 = t.0; top.v1 = t.1; top.v2 = t.2; top.v3 = t.3; top.v4 = t.4
        return (sum, top)
    }

    /// `storeExp` in Swift SIMD (8 lanes), on any CPU.
    public static func storeExpPortable(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float,
                                        into out: UnsafeMutablePointer<Float>, prefetching ahead: UnsafeRawBufferPointer? = nil) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let s = SIMD8<Float>(repeating: shift), k = SIMD8<Float>(repeating: scale)
        var i = 0
        // The lines of `ahead`, spread evenly over the iterations.
        var next = 0
        let aheadBytes = ahead?.count ?? 0, per = n >= 16 ? (aheadBytes / 64 + n / 16 - 1) / (n / 16) : 0
        while i + 16 <= n {
            if let base = ahead?.baseAddress, next < aheadBytes {
                ad_prefetch(base + next, min(64 * per, aheadBytes - next)); next += 64 * per
            }
            let e0 = expSIMD((loadSIMD8(x + i) - s) * k), e1 = expSIMD((loadSIMD8(x + i + 8) - s) * k)
            storeSIMD(e0, out + i); storeSIMD(e1, out + i + 8)
            acc0 += e0; acc1 += e1
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < n {
            out[i] = expSIMD(SIMD8(repeating: (x[i] - shift) * scale))[0]; total += out[i]
            i += 1
        }
        return total
    }

    /// out[i] = exp((x[i] - shift) * scale) for i in 0..<n; returns their sum and, in the same
    /// pass, sum exp(x[i] - shift) (the unscaled partition function, for log-probabilities).
    public static func storeExpWithRawSum(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float,
                                          into out: UnsafeMutablePointer<Float>) -> (scaled: Float, raw: Float) {
        var acc = SIMD8<Float>(), raw = SIMD8<Float>()
        let s = SIMD8<Float>(repeating: shift), k = SIMD8<Float>(repeating: scale)
        var i = 0
        while i + 8 <= n {
            let d = loadSIMD8(x + i) - s
            let e = expSIMD(d * k)
            storeSIMD(e, out + i)
            acc += e
            raw += expSIMD(d)
            i += 8
        }
        var total = acc.sum(), rawTotal = raw.sum()
        while i < n {
            out[i] = expSIMD(SIMD8(repeating: (x[i] - shift) * scale))[0]; total += out[i]
            rawTotal += expSIMD(SIMD8(repeating: x[i] - shift))[0]
            i += 1
        }
        return (total, rawTotal)
    }

    /// For q = e * invZ (e: n weights): sum (q - mean)^2 and sum q ln(q + eps), the variance and
    /// entropy sums of the AutoDeco top-p features, in one SIMD pass (AVX-512 in C when
    /// `passesUseAVX512`). `prefetching`: memory to ask for meanwhile, as in `storeExp` (the
    /// pass is bound by its logarithms, not by memory); the Swift path ignores it.
    public static func probabilityMoments(_ e: UnsafePointer<Float>, n: Int, invZ: Float, mean: Float, eps: Float,
                                          prefetching ahead: UnsafeRawBufferPointer? = nil) -> (sumSquaredDeviation: Float, sumQLogQ: Float) {
        if passesUseAVX512 {
            var c: (Float, Float) = (0, 0)
            ad_probability_moments_avx512(e, Int32(n), invZ, mean, eps, &c.0, &c.1, ahead?.baseAddress, ahead?.count ?? 0)
            return c
        }
        return probabilityMomentsPortable(e, n: n, invZ: invZ, mean: mean, eps: eps)
    }

    /// `probabilityMoments` in Swift SIMD (8 lanes), on any CPU.
    public static func probabilityMomentsPortable(_ e: UnsafePointer<Float>, n: Int, invZ: Float, mean: Float,
                                                  eps: Float) -> (sumSquaredDeviation: Float, sumQLogQ: Float) {
        let iz = SIMD8<Float>(repeating: invZ), mu = SIMD8<Float>(repeating: mean), ep = SIMD8<Float>(repeating: eps)
        var sq = SIMD8<Float>(), ent = SIMD8<Float>(), sq1 = SIMD8<Float>(), ent1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let q0 = loadSIMD8(e + i) * iz, q1 = loadSIMD8(e + i + 8) * iz
            let d0 = q0 - mu, d1 = q1 - mu
            sq.addProduct(d0, d0); sq1.addProduct(d1, d1)
            ent.addProduct(q0, logSIMD(q0 + ep)); ent1.addProduct(q1, logSIMD(q1 + ep))
            i += 16
        }
        sq += sq1; ent += ent1
        var sumSq = sq.sum(), sumEnt = ent.sum()
        while i < n {
            let q = e[i] * invZ
            sumSq += (q - mean) * (q - mean)
            sumEnt += q * logSIMD(SIMD8(repeating: q + eps))[0]
            i += 1
        }
        return (sumSq, sumEnt)
    }

    /// The first index at which the running sum of exp((x[i] - shift) * scale) exceeds `target`
    /// (n - 1 if it never does): inverse-CDF sampling without materialising the distribution.
    @inline(__always)
    public static func searchCumulativeExp(_ x: UnsafePointer<Float>, n: Int, shift: Float, scale: Float, target: Float) -> Int {
        let s = SIMD8<Float>(repeating: shift), k = SIMD8<Float>(repeating: scale)
        var cum: Float = 0
        var i = 0
        while i + 8 <= n {
            let e = expSIMD((loadSIMD8(x + i) - s) * k)
            let block = e.sum()
            if cum + block > target {
                for j in 0..<8 { cum += e[j]; if cum > target { return i + j } }
                return i + 7
            }
            cum += block
            i += 8
        }
        while i < n {
            cum += expSIMD(SIMD8(repeating: (x[i] - shift) * scale))[0]
            if cum > target { return i }
            i += 1
        }
        return n - 1
    }

    /// The first index at which the running sum of w exceeds `target` (n - 1 if it never does).
    public static func searchCumulative(_ w: UnsafePointer<Float>, n: Int, target: Float) -> Int {
        var cum: Float = 0
        var i = 0
        while i + 8 <= n {
            let block = loadSIMD8(w + i).sum()
            if cum + block > target {
                for j in 0..<8 { cum += w[i + j]; if cum > target { return i + j } }
                return i + 7
            }
            cum += block
            i += 8
        }
        while i < n { cum += w[i]; if cum > target { return i }; i += 1 }
        return n - 1
    }

    private static func tailSumExp(_ x: UnsafePointer<Float>, _ n: Int, shift: Float, scale: Float) -> Float {
        var total: Float = 0
        for j in 0..<n { total += expSIMD(SIMD8(repeating: (x[j] - shift) * scale))[0] }
        return total
    }
}

/// Vectorised natural log for x > 0 (normal floats): x = m 2^k with m in [sqrt(1/2), sqrt(2)),
/// ln x = k ln2 + ln(1 + f), f = m - 1, by Cephes' logf polynomial (relative error ~1e-7).
/// Integer bit operations only, for the same reason as `expSIMD`.
@inline(__always)
public func logSIMD(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Shift the bit pattern so the mantissa lands in [sqrt(1/2), sqrt(2)) and the exponent follows.
    let bits = unsafeBitCast(x, to: SIMD8<Int32>.self) &+ (0x3F80_0000 - 0x3F35_04F3)
    let kInt = (bits &>> 23) &- 127
    let m = unsafeBitCast((bits & 0x007F_FFFF) &+ 0x3F35_04F3, to: SIMD8<Float>.self)
    // Int -> Float without the stdlib's out-of-line conversion: 1.5 * 2^23 + k, minus the magic.
    let k = unsafeBitCast(kInt &+ 0x4B40_0000, to: SIMD8<Float>.self) - SIMD8(repeating: 12_582_912)
    let f = m - SIMD8(repeating: 1)
    let z = f * f
    // Horner steps as explicit FMAs: Swift does not contract `y * f + c`; measured, the pass of
    // AutoDeco's entropy went from 22 to 16 us per 24k values. (The same change made expSIMD slower:
    // the vectoriser split it into scalar and 4-lane pieces.)
    var y = SIMD8<Float>(repeating: 7.037_683_629_2e-2)
    y = SIMD8(repeating: -1.151_461_031_0e-1).addingProduct(y, f)
    y = SIMD8(repeating: 1.167_699_874_0e-1).addingProduct(y, f)
    y = SIMD8(repeating: -1.242_014_084_6e-1).addingProduct(y, f)
    y = SIMD8(repeating: 1.424_932_278_7e-1).addingProduct(y, f)
    y = SIMD8(repeating: -1.666_805_766_5e-1).addingProduct(y, f)
    y = SIMD8(repeating: 2.000_071_476_5e-1).addingProduct(y, f)
    y = SIMD8(repeating: -2.499_999_399_3e-1).addingProduct(y, f)
    y = SIMD8(repeating: 3.333_333_117_4e-1).addingProduct(y, f)
    y = y * f * z
    y = y.addingProduct(k, SIMD8(repeating: -2.121_944_40e-4))
    y = y.addingProduct(z, SIMD8(repeating: -0.5))
    return (f + y).addingProduct(k, SIMD8(repeating: 0.693_359_375))
}
