// Matrix products against a WeightMatrix, parallel over output rows.
//   decode (one token):   y[r]    = dot(W[r, :], x)          fused dequant-dot, weights read once
//   prompt (T tokens):    Y[t, r] = dot(W[r, :], X[t, :])    rows dequantized into a small panel,
//                                                             then a 4x3 register-tiled float kernel

/// Per-32-block sums of x (used by the Q4_1 offset term). `sums` holds cols/32 floats.
@inline(__always)
public func blockSums(_ x: UnsafePointer<Float>, cols: Int, into sums: UnsafeMutablePointer<Float>) {
    for b in 0..<(cols / 32) { sums[b] = (loadSIMD16(x + 32 * b) + loadSIMD16(x + 32 * b + 16)).sum() }
}

public enum MatMul {
    /// y[rows] = W x for rows in `range`. `sums` must hold blockSums(x) when W needs them.
    @inline(__always)
    public static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>?,
                              _ y: UnsafeMutablePointer<Float>, rows range: Range<Int>) {
        for r in range { y[r] = w.dot(row: r, x, blockSums: sums) }
    }

    /// Y[t, r] = dot(W[r], X[t]) for t in 0..<tokens and r in `range`; X is [tokens, cols] with row
    /// stride `cols`, Y is [tokens, ldy]. `panel` is scratch for 4 * cols floats.
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, ldy: Int, rows range: Range<Int>,
                              panel: UnsafeMutablePointer<Float>) {
        let k = w.cols
        // Token blocks keep a slice of X hot in L2 while every row panel passes over it.
        let tokenBlock = 48
        var t0 = 0
        while t0 < tokens {
            let t1 = min(tokens, t0 + tokenBlock)
            var r = range.lowerBound
            while r < range.upperBound {
                let nr = min(4, range.upperBound - r)
                for i in 0..<nr { w.dequantizeRow(r + i, into: panel + i * k) }
                var t = t0
                if nr == 4 && k % 8 == 0 {
                    while t + 3 <= t1 {
                        tile4x3(panel, k, x + t * k, y + t * ldy + r, ldy)
                        t += 3
                    }
                }
                while t < t1 {
                    for i in 0..<nr { y[t * ldy + r + i] = dotF32(panel + i * k, x + t * k, k) }
                    t += 1
                }
                r += nr
            }
            t0 = t1
        }
    }

    /// 4 weight rows x 3 tokens: 12 SIMD8 accumulators stay in the 16 AVX2 registers.
    @inline(__always)
    static func tile4x3(_ w: UnsafePointer<Float>, _ k: Int, _ x: UnsafePointer<Float>,
                        _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c02 = SIMD8<Float>()
        var c10 = SIMD8<Float>(), c11 = SIMD8<Float>(), c12 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c22 = SIMD8<Float>()
        var c30 = SIMD8<Float>(), c31 = SIMD8<Float>(), c32 = SIMD8<Float>()
        let w0 = w, w1 = w + k, w2 = w + 2 * k, w3 = w + 3 * k
        let x0 = x, x1 = x + k, x2 = x + 2 * k
        var i = 0
        while i < k {
            let a0 = loadSIMD8(x0 + i), a1 = loadSIMD8(x1 + i), a2 = loadSIMD8(x2 + i)
            let b0 = loadSIMD8(w0 + i)
            c00.addProduct(b0, a0); c01.addProduct(b0, a1); c02.addProduct(b0, a2)
            let b1 = loadSIMD8(w1 + i)
            c10.addProduct(b1, a0); c11.addProduct(b1, a1); c12.addProduct(b1, a2)
            let b2 = loadSIMD8(w2 + i)
            c20.addProduct(b2, a0); c21.addProduct(b2, a1); c22.addProduct(b2, a2)
            let b3 = loadSIMD8(w3 + i)
            c30.addProduct(b3, a0); c31.addProduct(b3, a1); c32.addProduct(b3, a2)
            i += 8
        }
        y[0] = c00.sum(); y[1] = c10.sum(); y[2] = c20.sum(); y[3] = c30.sum()
        y[ldy] = c01.sum(); y[ldy + 1] = c11.sum(); y[ldy + 2] = c21.sum(); y[ldy + 3] = c31.sum()
        y[2 * ldy] = c02.sum(); y[2 * ldy + 1] = c12.sum(); y[2 * ldy + 2] = c22.sum(); y[2 * ldy + 3] = c32.sum()
    }
}
