import CKernels

/// A Q4_1 or Q8_0 matrix repacked 16 rows at a time for the AVX-512 VNNI kernels: a vector lane
/// is a row, so a block's dot products for 16 rows finish without any reduction across lanes
/// (layout and reasons in `Sources/CKernels/packed16.c`). Same size as the GGUF blocks; owns its
/// memory.
public final class PackedRows16: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int

    /// Whether this CPU runs the packed kernels (AVX-512 with VNNI). Elsewhere weights stay in
    /// the GGUF layout and the AVX2 or portable kernels of `ad_gemm_q16` run.
    public static var supportedByThisCPU: Bool { ad_kernels_have_vnni() != 0 }

    /// Packs `w` (Q4_1 or Q8_0), row groups spread over `pool`'s threads.
    public init(_ w: WeightMatrix, pool: ThreadPool) {
        precondition(w.acceptsQuantizedActivations, "only Q4_1 and Q8_0 are packed")
        let format = w.integerKernelFormat
        byteCount = ad_packed16_bytes(format, Int32(w.rows), Int32(w.cols))
        bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let groups = (w.rows + 15) / 16
        let out = bytes
        pool.parallelFor(groups) { range in
            ad_pack16(format, w.data, w.rowBytes, Int32(w.rows), Int32(w.cols),
                      Int32(range.lowerBound), Int32(range.upperBound), out)
        }
    }

    deinit { bytes.deallocate() }
}

extension WeightMatrix {
    /// This matrix with a 16-row packed copy that the integer matrix product uses instead of the
    /// GGUF rows (which stay in place for dequantization and the float path).
    public func packedInto16Rows(pool: ThreadPool) -> WeightMatrix {
        var copy = self
        copy.packed = PackedRows16(self, pool: pool)
        return copy
    }
}
