/// Causal attention of one query head over a KV cache.
public enum Attention {
    /// out[headDim] = sum_p softmax_p(q . K[p] * scale) V[p] for p in 0..<length.
    /// K and V rows for this KV head are `stride` floats apart. `scores` holds `length` floats.
    @inline(__always)
    public static func attend(query q: UnsafePointer<Float>, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>,
                              stride: Int, length: Int, headDim: Int, scale: Float,
                              scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        for p in 0..<length { scores[p] = dotF32(q, k + p * stride, headDim) * scale }
        VectorOps.softmax(scores, n: length)
        out.update(repeating: 0, count: headDim)
        for p in 0..<length { VectorOps.axpy(scores[p], v + p * stride, out, n: headDim) }
    }
}
