import CKernels

/// Activations rounded to int8 per 32-value block, as llama.cpp rounds every matrix product's
/// input: x[i] ~= values[i] * scales[i / 32]; `sums` holds each block's exact float sum (the
/// Q4_1 offset term). Rows of `cols` values, one per token; the memory belongs to the caller.
public struct QuantizedActivations {
    public let values: UnsafeMutablePointer<Int8>   // [tokens, cols]
    public let scales: UnsafeMutablePointer<Float>  // [tokens, cols / 32]
    public let sums: UnsafeMutablePointer<Float>    // [tokens, cols / 32]
    public let cols: Int

    public init(values: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>,
                sums: UnsafeMutablePointer<Float>, cols: Int) {
        precondition(cols % 32 == 0, "cols must be a multiple of 32")
        self.values = values; self.scales = scales; self.sums = sums; self.cols = cols
    }

    /// Rounds rows `tokens` of x ([*, cols]) into the same rows of self.
    public func quantize(_ x: UnsafePointer<Float>, tokens: Range<Int>) {
        let blocks = cols / 32
        for t in tokens {
            ad_quantize_q8(x + t * cols, Int32(cols), values + t * cols, scales + t * blocks, sums + t * blocks)
        }
    }
}

extension WeightMatrix {
    /// Whether `MatMul.matmul(_:_:tokens:...)` with int8 activations handles this format.
    public var acceptsQuantizedActivations: Bool { format == .q4_1 || format == .q8_0 }
}

extension MatMul {
    /// Y[t, r] = dot(W[r], X[t]) for t in 0..<tokens and r in `range`, X as int8 activations
    /// (W must accept them). The same code for one token and many, so a sequence decoded alone
    /// gets the bit-identical result it gets inside a batch.
    public static func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, ldy: Int, rows range: Range<Int>) {
        precondition(w.acceptsQuantizedActivations && w.cols == x.cols)
        guard !range.isEmpty, tokens > 0 else { return }
        ad_gemm_q8(w.format == .q4_1 ? 1 : 2, w.data, w.rowBytes, Int32(w.cols), Int32(range.lowerBound),
                   Int32(range.upperBound), x.values, x.scales, x.sums, Int32(tokens), y, ldy)
    }

    /// Whether the int8 kernels use AVX2 on this CPU (else a portable C loop).
    public static var int8KernelsUseAVX2: Bool { ad_kernels_use_avx2() != 0 }

    /// Forces the portable int8 kernels (tests compare both); returns the previous setting.
    @discardableResult
    public static func forcePortableInt8Kernels(_ on: Bool) -> Bool { ad_kernels_force_portable(on ? 1 : 0) != 0 }
}
