import CKernels

/// Causal attention of the query heads that share one KV head, over a KV cache.
public enum Attention {
    /// How many K rows ahead of the one in use are prefetched.
    static let keysAhead = 4

    /// Prefetches the K rows that `attend` reads before its own prefetches reach them: call it
    /// for the next task while the current one computes.
    @inline(__always)
    public static func prefetchFirstKeys(_ k: UnsafePointer<Float>, stride: Int, length: Int, headDim d: Int) {
        for p in 0..<min(length, keysAhead) { ad_prefetch(k + p * stride, d * MemoryLayout<Float>.size) }
    }

    /// For each of the `heads` query heads j (queries and outputs `headDim` floats apart):
    /// out_j[headDim] = sum_p softmax_p(q_j . K[p] * scale) V[p] for p in 0..<length.
    /// K and V rows for this KV head are `stride` floats apart; `scores` holds heads x length floats.
    ///
    /// Each K and V row is read from memory once and serves every head of the group from L1 (the
    /// cache keeps each KV head's positions contiguous, so they stream in order). Every head's
    /// arithmetic is the same whatever `heads` is, so a group computed together gives the results
    /// of its heads computed one by one, to the bit.
    @inline(__always)
    public static func attend(queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<Float>,
                              values v: UnsafePointer<Float>, stride: Int, length: Int, headDim d: Int, scale: Float,
                              scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let rowBytes = d * MemoryLayout<Float>.size
        for p in 0..<length {
            let row = k + p * stride
            // The rows come from memory (the weights streamed in since evicted them) and are too
            // few for the hardware prefetcher to ramp up: fetch K a few rows ahead, and V for the
            // weighted sum that follows.
            ad_prefetch(row + Self.keysAhead * stride, rowBytes)
            ad_prefetch(v + p * stride, rowBytes)
            for j in 0..<g { scores[j * length + p] = dotF32(q + j * d, row, d) * scale }
        }
        for j in 0..<g {
            let s = scores + j * length
            VectorOps.softmax(s, n: length)
            weightedSum(s, rows: v, stride: stride, count: length, width: d, into: out + j * d)
        }
    }

    /// out[width] = sum_p w[p] rows[p], 32 columns at a time in registers (not an axpy per row,
    /// which would load and store the whole output once per position).
    @inline(__always)
    static func weightedSum(_ w: UnsafePointer<Float>, rows v: UnsafePointer<Float>, stride: Int, count: Int,
                            width d: Int, into out: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 32 <= d {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for p in 0..<count {
                let s = SIMD8<Float>(repeating: w[p]), r = v + p * stride + c
                a0.addProduct(s, loadSIMD8(r)); a1.addProduct(s, loadSIMD8(r + 8))
                a2.addProduct(s, loadSIMD8(r + 16)); a3.addProduct(s, loadSIMD8(r + 24))
            }
            storeSIMD(a0, out + c); storeSIMD(a1, out + c + 8); storeSIMD(a2, out + c + 16); storeSIMD(a3, out + c + 24)
            c += 32
        }
        while c + 8 <= d {
            var a = SIMD8<Float>()
            for p in 0..<count { a.addProduct(SIMD8<Float>(repeating: w[p]), loadSIMD8(v + p * stride + c)) }
            storeSIMD(a, out + c)
            c += 8
        }
        while c < d {
            var a: Float = 0
            for p in 0..<count { a += w[p] * v[p * stride + c] }
            out[c] = a
            c += 1
        }
    }
}
