import CKernels

/// Activations rounded to integers per 32-value block for the integer matrix products:
/// x[i] ~= values[i] * scales[i / 32]; `sums` holds each block's exact float sum (the Q4_1
/// offset term). Rows of `cols` values, one per token; the memory belongs to the caller.
///
/// Two roundings. 16 bits: within ~1e-6 (KL) of an exact forward pass. 8 bits with one outlier
/// per block (`eightBit` set): a block's largest value keeps 16 bits when it exceeds 1.5 times
/// the second largest, the rest take 8, so that the 8-bit `vpdpbusd` kernels (twice the products per
/// instruction) apply; plain 8-bit rounding, llama.cpp's, drifts 5-10x further from exact on this
/// model's outlier channels (docs/performance.md). `values` holds the integers either way, so
/// every kernel over them computes the same sums.
public struct QuantizedActivations {
    public let values: UnsafeMutablePointer<Int16>   // [tokens, cols]
    public let scales: UnsafeMutablePointer<Float>  // [tokens, cols / 32]
    public let sums: UnsafeMutablePointer<Float>    // [tokens, cols / 32]
    public let cols: Int
    /// The 8-bit rounding's extra parts, nil for 16 bits.
    public let eightBit: EightBitParts?

    /// What the 8-bit kernels read besides `values`: the values as bytes with each outlier's place
    /// 0, the outlier's index per block (-1: none) and the integer sum per block.
    public struct EightBitParts {
        public let bytes: UnsafeMutablePointer<Int8>       // [tokens, cols]
        public let outliers: UnsafeMutablePointer<Int8>    // [tokens, cols / 32]
        public let integerSums: UnsafeMutablePointer<Int32> // [tokens, cols / 32]
        public init(bytes: UnsafeMutablePointer<Int8>, outliers: UnsafeMutablePointer<Int8>,
                    integerSums: UnsafeMutablePointer<Int32>) {
            self.bytes = bytes; self.outliers = outliers; self.integerSums = integerSums
        }
    }

    public init(values: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>,
                sums: UnsafeMutablePointer<Float>, cols: Int, eightBit: EightBitParts? = nil) {
        precondition(cols % 32 == 0, "cols must be a multiple of 32")
        self.values = values; self.scales = scales; self.sums = sums; self.cols = cols; self.eightBit = eightBit
    }

    /// Rounds rows `tokens` of x ([*, cols]) into the same rows of self.
    public func quantize(_ x: UnsafePointer<Float>, tokens: Range<Int>) {
        let blocks = cols / 32
        for t in tokens {
            let row = x + t * cols
            if let e = eightBit {
                ad_quantize_q8x(row, Int32(cols), values + t * cols, e.bytes + t * cols, scales + t * blocks,
                                sums + t * blocks, e.outliers + t * blocks, e.integerSums + t * blocks)
            } else {
                ad_quantize_q16(row, Int32(cols), values + t * cols, scales + t * blocks, sums + t * blocks)
            }
        }
    }

    /// The C kernels' view of the 8-bit rounding (which must be present).
    var cView: ad_q8x {
        guard let e = eightBit else { preconditionFailure("8-bit packed weights need 8-bit activations") }
        return ad_q8x(q16: values, q8: e.bytes, dx: scales, sx: sums, outlier: e.outliers, qsum: e.integerSums)
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
    /// gets the bit-identical result it gets inside a batch. With `maxima` ([tokens]), each
    /// becomes the largest of itself and its token's outputs (see `updateMaxima`).
    public static func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, ldy: Int, rows range: Range<Int>,
                              maxima: UnsafeMutablePointer<Float>? = nil) {
        precondition(w.acceptsQuantizedActivations && w.cols == x.cols)
        guard !range.isEmpty, tokens > 0 else { return }
        let format = w.integerKernelFormat
        if let packed = w.packed {
            // The packed kernels take each row group's maxima while its outputs are in L1.
            switch packed.layout {
            case .pairs16:
                ad_gemm_packed16(format, packed.bytes, Int32(w.cols), Int32(range.lowerBound), Int32(range.upperBound),
                                 x.values, x.scales, x.sums, Int32(tokens), y, ldy, maxima)
            case .quads8:
                var view = x.cView
                ad_gemm_packed8(format, packed.bytes, Int32(w.cols), Int32(range.lowerBound), Int32(range.upperBound),
                                &view, Int32(tokens), y, ldy, maxima)
            }
            return
        }
        ad_gemm_q16(format, w.data, w.rowBytes, Int32(w.cols), Int32(range.lowerBound),
                   Int32(range.upperBound), x.values, x.scales, x.sums, Int32(tokens), y, ldy)
        if let maxima { updateMaxima(maxima, y, ldy: ldy, rows: range, tokens: tokens) }
    }

    /// maxima[t] = max(maxima[t], Y[t, r] for r in `range`): the largest logit of each token for
    /// the AutoDeco statistics, taken where the LM head's kernel does not take it itself. NaN
    /// never wins (as in the top-5 scan).
    public static func updateMaxima(_ maxima: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, ldy: Int,
                                    rows range: Range<Int>, tokens: Int) {
        ad_rows_maxima(y, ldy, Int32(range.lowerBound), Int32(range.upperBound), Int32(tokens), maxima)
    }

    /// Whether packed matrices run the AVX-512 VNNI kernel here (else the portable loop).
    public static var packedKernelsUseVNNI: Bool { ad_kernels_have_vnni() != 0 && ad_kernels_portable_forced() == 0 }

    /// Multiply-adds/s of 512-bit VNNI instructions on the calling thread, registers only
    /// (`bits` 16: `vpdpwssd`, 8: `vpdpbusd`); 0 where the CPU has no AVX-512 VNNI.
    public static func vnniPeakMACs(bits: Int, rounds: Int) -> Double { ad_vnni_peak_macs(Int32(bits), rounds) }

    /// Whether the integer kernels use AVX2 on this CPU (else a portable C loop).
    public static var integerKernelsUseAVX2: Bool { ad_kernels_use_avx2() != 0 }

    /// Forces the portable integer kernels on the calling thread only (tests compare both paths
    /// while other tests run models on other threads); returns the previous setting.
    @discardableResult
    public static func forcePortableIntegerKernels(_ on: Bool) -> Bool { ad_kernels_force_portable(on ? 1 : 0) != 0 }
}
