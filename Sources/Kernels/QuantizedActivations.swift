import CKernels

/// Activations rounded to 16-bit integers per 32-value block for the integer matrix products:
/// x[i] ~= values[i] * scales[i / 32]; `sums` holds each block's exact float sum (the Q4_1
/// offset term). Rows of `cols` values, one per token; the memory belongs to the caller.
/// (8 bits, as llama.cpp rounds, are 5x further from an exact forward pass on this model's
/// outlier channels than llama.cpp is overall; see docs/performance.md.)
public struct QuantizedActivations {
    public let values: UnsafeMutablePointer<Int16>   // [tokens, cols]
    public let scales: UnsafeMutablePointer<Float>  // [tokens, cols / 32]
    public let sums: UnsafeMutablePointer<Float>    // [tokens, cols / 32]
    public let cols: Int

    public init(values: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>,
                sums: UnsafeMutablePointer<Float>, cols: Int) {
        precondition(cols % 32 == 0, "cols must be a multiple of 32")
        self.values = values; self.scales = scales; self.sums = sums; self.cols = cols
    }

    /// Rounds rows `tokens` of x ([*, cols]) into the same rows of self.
    public func quantize(_ x: UnsafePointer<Float>, tokens: Range<Int>) {
        let blocks = cols / 32
        for t in tokens {
            ad_quantize_q16(x + t * cols, Int32(cols), values + t * cols, scales + t * blocks, sums + t * blocks)
        }
    }
}

extension WeightMatrix {
    /// Whether `MatMul.matmul(_:_:tokens:...)` with integer activations handles this format.
    public var acceptsQuantizedActivations: Bool { format == .q4_1 || format == .q8_0 }

    /// The C kernels' name for this matrix's format (1 = Q4_1, 2 = Q8_0).
    var integerKernelFormat: Int32 { format == .q4_1 ? 1 : 2 }
}

extension MatMul {
    /// Y[t, r] = dot(W[r], X[t]) for t in 0..<tokens and r in `range`, X as integer activations
    /// (W must accept them). The same code for one token and many, so a sequence decoded alone
    /// gets the bit-identical result it gets inside a batch.
    public static func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, ldy: Int, rows range: Range<Int>) {
        precondition(w.acceptsQuantizedActivations && w.cols == x.cols)
        guard !range.isEmpty, tokens > 0 else { return }
        let format = w.integerKernelFormat
        if let packed = w.packed {
            ad_gemm_packed16(format, packed.bytes, Int32(w.cols), Int32(range.lowerBound), Int32(range.upperBound),
                             x.values, x.scales, x.sums, Int32(tokens), y, ldy)
            return
        }
        ad_gemm_q16(format, w.data, w.rowBytes, Int32(w.cols), Int32(range.lowerBound),
                   Int32(range.upperBound), x.values, x.scales, x.sums, Int32(tokens), y, ldy)
    }

    /// Whether packed matrices run the AVX-512 VNNI kernel here (else the portable loop).
    public static var packedKernelsUseVNNI: Bool { ad_kernels_have_vnni() != 0 && ad_kernels_force_portable(-1) == 0 }

    /// Multiply-adds/s of 512-bit VNNI instructions on the calling thread, registers only
    /// (`bits` 16: `vpdpwssd`, 8: `vpdpbusd`); 0 where the CPU has no AVX-512 VNNI.
    public static func vnniPeakMACs(bits: Int, rounds: Int) -> Double { ad_vnni_peak_macs(Int32(bits), rounds) }

    /// Whether the integer kernels use AVX2 on this CPU (else a portable C loop).
    public static var integerKernelsUseAVX2: Bool { ad_kernels_use_avx2() != 0 }

    /// Forces the portable integer kernels (tests compare both); returns the previous setting.
    @discardableResult
    public static func forcePortableIntegerKernels(_ on: Bool) -> Bool { ad_kernels_force_portable(on ? 1 : 0) != 0 }
}
