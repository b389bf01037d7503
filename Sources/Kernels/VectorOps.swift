import CKernels
import Foundation

/// Elementwise and normalisation kernels on float rows.
public enum VectorOps {
    /// out = x / sqrt(mean(x^2) + eps) * weight, for one row of length n.
    @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int, eps: Float) {
        let ss = dotF32(x, x, n)
        let scale = 1 / (ss / Float(n) + eps).squareRoot()
        var i = 0
        let s8 = SIMD8<Float>(repeating: scale)
        while i + 8 <= n { storeSIMD(loadSIMD8(x + i) * s8 * loadSIMD8(weight + i), out + i); i += 8 }
        while i < n { out[i] = x[i] * scale * weight[i]; i += 1 }
    }

    /// Asks for the `bytes` bytes at p to be brought into the caches (one prefetch per line): for
    /// small arrays that the weights streamed since their last use have evicted, ahead of a use.
    @inline(__always)
    public static func prefetch(_ p: UnsafeRawPointer, bytes: Int) { ad_prefetch(p, bytes) }

    /// y += x
    @inline(__always)
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, n: Int) {
        var i = 0
        while i + 8 <= n { storeSIMD(loadSIMD8(y + i) + loadSIMD8(x + i), y + i); i += 8 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// gate = silu(gate) * up  (SwiGLU), in place.
    @inline(__always)
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, n: Int) {
        if passesUseAVX512 { ad_swiglu_avx512(gate, up, Int32(n)); return }  // the same rule in 16 lanes (exp512.c)
        // SIMD exp (libm's scalar expf made this 4.6% of a decoded token). sigmoid(g) from
        // s = e^-|g|, inside expSIMD's domain for every g: 1 / (1 + s) for g >= 0, s / (1 + s) below,
        // the numerator chosen by the sign bit (bit operations: SIMD masks are slow here, see Exp.swift).
        var i = 0
        let one = SIMD8<Float>(repeating: 1)
        let oneBits = unsafeBitCast(one, to: SIMD8<Int32>.self)
        while i + 8 <= n {
            let g = loadSIMD8(gate + i)
            let bits = unsafeBitCast(g, to: SIMD8<Int32>.self)
            let e = expSIMD(unsafeBitCast(bits | Int32.min, to: SIMD8<Float>.self))  // e^-|g|
            let negative = bits &>> 31
            let numerator = unsafeBitCast((oneBits & ~negative) | (unsafeBitCast(e, to: SIMD8<Int32>.self) & negative),
                                          to: SIMD8<Float>.self)
            storeSIMD(g * numerator / (one + e) * loadSIMD8(up + i), gate + i)
            i += 8
        }
        while i < n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
            i += 1
        }
    }

    /// In-place softmax of x[0..<n]; returns the max.
    @inline(__always)
    @discardableResult
    public static func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) -> Float {
        let m = max(x, n: n)
        // In place: each value is read before it is written. Arguments <= 0: inside expSIMD's domain.
        let inv = 1 / storeExp(x, n: n, shift: m, scale: 1, into: x)
        for i in 0..<n { x[i] *= inv }
        return m
    }

    /// Writes the indices i with x[i] >= floor to `out` (room for n), in increasing order, and
    /// returns how many. A 16-lane compare skips the blocks where none qualifies: a sampler's
    /// candidate scan over 49k weights of which a few hundred pass costs one SIMD pass.
    public static func indices(of x: UnsafePointer<Float>, n: Int, atLeast floor: Float,
                               into out: UnsafeMutablePointer<Int32>) -> Int {
        var count = 0, i = 0
        let f = SIMD16<Float>(repeating: floor)
        while i + 16 <= n {
            let v = loadSIMD16(x + i)
            if any(v .>= f) {
                for j in 0..<16 where v[j] >= floor { out[count] = Int32(i + j); count += 1 }
            }
            i += 16
        }
        while i < n {
            if x[i] >= floor { out[count] = Int32(i); count += 1 }
            i += 1
        }
        return count
    }

    /// The weight of the tokens ranked before token x when w[0..<n] is sorted by weight, higher
    /// first and ties to the lower index: sum of w[i] > w[x], plus w[i] == w[x] for i < x. One
    /// 16-lane pass (a token's place in a top-p nucleus without sorting).
    public static func massRankedBefore(_ w: UnsafePointer<Float>, n: Int, index x: Int) -> Float {
        let wx = w[x], t = SIMD16<Float>(repeating: wx)
        var acc = SIMD16<Float>()
        var i = 0
        // Before x, ties rank ahead (>=); after it, only heavier weights do (>).
        while i + 16 <= x { let v = loadSIMD16(w + i); acc += v.replacing(with: 0, where: v .< t); i += 16 }
        var total: Float = 0
        while i < x { if w[i] >= wx { total += w[i] }; i += 1 }
        i = x + 1
        while i + 16 <= n { let v = loadSIMD16(w + i); acc += v.replacing(with: 0, where: v .<= t); i += 16 }
        while i < n { if w[i] > wx { total += w[i] }; i += 1 }
        return total + acc.sum()
    }

    /// Index and value of the largest of x[0..<n] (the first one on ties): `max`, then one scan
    /// to find the index.
    @inline(__always)
    public static func argmax(_ x: UnsafePointer<Float>, n: Int) -> (index: Int, value: Float) {
        let best = max(x, n: n)
        guard best > -.infinity else { return (0, best) }
        var j = 0
        while x[j] != best { j += 1 }
        return (j, best)
    }

    /// The largest of x[0..<n] (-inf when n is 0): eight independent running maxima, vectorised
    /// by the compiler.
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, n: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var i = 0
        while i + 8 <= n {
            m0 = Swift.max(m0, x[i]); m1 = Swift.max(m1, x[i + 1]); m2 = Swift.max(m2, x[i + 2]); m3 = Swift.max(m3, x[i + 3])
            m4 = Swift.max(m4, x[i + 4]); m5 = Swift.max(m5, x[i + 5]); m6 = Swift.max(m6, x[i + 6]); m7 = Swift.max(m7, x[i + 7])
            i += 8
        }
        var best = Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
        while i < n { best = Swift.max(best, x[i]); i += 1 }
        return best
    }

    /// The five largest of x[0..<n]. One pass against the current fifth largest t: a block of 16
    /// is looked at value by value only when one of its values beats t, which after the first
    /// blocks is rare (the running top five changes about 5 ln(n/5) times in n values).
    /// The test is integer arithmetic on x - t: every difference is negative (or -0) exactly when
    /// every sign bit is set. A SIMD `.>` mask against a threshold that changes in the loop ran 60x
    /// slower here (see docs/performance.md). Callers that split x merge the parts with `Top5.merge`.
    /// Each step asks for the line 2 KB ahead: the AutoDeco heads scan logits that the LM head's
    /// stream has pushed out of the caches (0.4-1.2 µs less over half SmolLM2's vocabulary).
    public static func top5(_ x: UnsafePointer<Float>, n: Int) -> Top5 {
        var top = Top5()
        var i = 0
        while i + 16 <= n {
            ad_prefetch(x + i + 512, 64)
            let t = SIMD8<Float>(repeating: top.v4)
            let signs = unsafeBitCast(loadSIMD8(x + i) - t, to: SIMD8<Int32>.self) & unsafeBitCast(loadSIMD8(x + i + 8) - t, to: SIMD8<Int32>.self)
            if (signs &>> 31).wrappedSum() != -8 {  // some x >= t (or NaN, which `insert` ignores)
                for j in 0..<16 { top.insert(x[i + j]) }
            }
            i += 16
        }
        while i < n { top.insert(x[i]); i += 1 }
        return top
    }

    /// y += a * x
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        var i = 0
        let a8 = SIMD8<Float>(repeating: a)
        while i + 8 <= n { storeSIMD(loadSIMD8(y + i).addingProduct(a8, loadSIMD8(x + i)), y + i); i += 8 }
        while i < n { y[i] += a * x[i]; i += 1 }
    }
}

/// Rotary position embedding.
public enum RopeStyle: Sendable, Equatable {
    /// Rotate (x[2i], x[2i+1]): GGUF `llama` weights (the converter permuted q/k for this).
    case adjacentPairs
    /// Rotate (x[i], x[i + d/2]): Hugging Face checkpoints and GGUF qwen2/neox models.
    case splitHalf
}

public struct Rope: Sendable {
    public let dims: Int
    public let base: Float
    public let style: RopeStyle
    /// inverse frequencies base^(-2i/dims), i in 0..<dims/2
    private let invFreq: [Float]

    public init(dims: Int, base: Float, style: RopeStyle) {
        self.dims = dims; self.base = base; self.style = style
        invFreq = (0..<(dims / 2)).map { i in Float(pow(Double(base), -2.0 * Double(i) / Double(dims))) }
    }

    /// cos/sin table for one position: cs[2i] = cos, cs[2i+1] = sin. `cs` holds `dims` floats.
    @inline(__always)
    public func table(position: Int, into cs: UnsafeMutablePointer<Float>) {
        for i in 0..<(dims / 2) {
            // Angles computed in double: positions reach 10^4-10^5 and float32 would lose the phase.
            let a = Double(position) * Double(invFreq[i])
            cs[2 * i] = Float(cos(a)); cs[2 * i + 1] = Float(sin(a))
        }
    }

    /// Rotates `heads` vectors of length `headDim` (consecutive) with a precomputed table.
    @inline(__always)
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, table cs: UnsafePointer<Float>) {
        let half = dims / 2
        for h in 0..<heads {
            let v = x + h * headDim
            switch style {
            case .adjacentPairs:
                for i in 0..<half {
                    let c = cs[2 * i], s = cs[2 * i + 1]
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * c - b * s
                    v[2 * i + 1] = a * s + b * c
                }
            case .splitHalf:
                for i in 0..<half {
                    let c = cs[2 * i], s = cs[2 * i + 1]
                    let a = v[i], b = v[i + half]
                    v[i] = a * c - b * s
                    v[i + half] = a * s + b * c
                }
            }
        }
    }
}

/// Five largest values seen, in descending order (-inf until five were seen), kept in registers.
public struct Top5: Sendable, Equatable {
    public var v0 = -Float.infinity, v1 = -Float.infinity, v2 = -Float.infinity, v3 = -Float.infinity, v4 = -Float.infinity

    public init() {}

    public var values: [Float] { [v0, v1, v2, v3, v4] }

    /// Inserts v if it is among the five largest.
    @inline(__always)
    public mutating func insert(_ v: Float) {
        guard v > v4 else { return }
        if v > v0 { v4 = v3; v3 = v2; v2 = v1; v1 = v0; v0 = v; return }
        if v > v1 { v4 = v3; v3 = v2; v2 = v1; v1 = v; return }
        if v > v2 { v4 = v3; v3 = v2; v2 = v; return }
        if v > v3 { v4 = v3; v3 = v; return }
        v4 = v
    }

    /// The five largest of both sets (the top five of a union of disjoint parts).
    public mutating func merge(_ other: Top5) {
        insert(other.v0); insert(other.v1); insert(other.v2); insert(other.v3); insert(other.v4)
    }

    /// The five largest of all the parts', merged in the parts' order.
    public static func merged(_ parts: UnsafeMutableBufferPointer<Top5>) -> Top5 {
        var top = Top5()
        for p in parts { top.merge(p) }
        return top
    }
}

/// dot(w, x) with w in bfloat16 (the top halves of float32s): half the bytes of a float row, for
/// weights that are exactly bf16 (as the released AutoDeco heads are).
@inline(__always)
public func dotBF16(_ w: UnsafePointer<UInt16>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    var i = 0
    @inline(__always) func widen(_ h: SIMD8<UInt16>) -> SIMD8<Float> {
        var u = SIMD8<UInt32>()
        for j in 0..<8 { u[j] = UInt32(h[j]) << 16 }  // a lane loop: vectorised to vpmovzxwd + vpslld
        return unsafeBitCast(u, to: SIMD8<Float>.self)
    }
    while i + 16 <= n {
        a0.addProduct(widen(UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<UInt16>.self)), loadSIMD8(x + i))
        a1.addProduct(widen(UnsafeRawPointer(w + i + 8).loadUnaligned(as: SIMD8<UInt16>.self)), loadSIMD8(x + i + 8))
        i += 16
    }
    var s = (a0 + a1).sum()
    while i < n { s += Float(bitPattern: UInt32(w[i]) << 16) * x[i]; i += 1 }
    return s
}
