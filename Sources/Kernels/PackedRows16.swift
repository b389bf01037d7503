import CKernels

/// A Q4_1 or Q8_0 matrix repacked 16 rows at a time for the AVX-512 VNNI kernels: a vector lane
/// is a row, so a block's dot products for 16 rows finish without any reduction across lanes
/// (layouts and reasons in `Sources/CKernels/packed16.c` and `packed8.c`). Same size as the GGUF
/// blocks. A value of plain data, like the `WeightMatrix` that holds it: its bytes belong to the
/// arena they were packed into, which the owner of the matrices keeps (a model's weights keep
/// theirs). Nothing in a matrix is reference-counted, so that the threads of a product copy
/// matrices without writing to a shared counter.
public struct PackedRows16: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
    public let layout: Layout

    /// Which activations the packed weights meet.
    public enum Layout: Sendable {
        /// 16-bit activations, `vpdpwssd`: weights in activation pairs.
        case pairs16
        /// 8-bit activations with an outlier per block, `vpdpbusd`: weights in activation quads.
        case quads8
    }

    /// Whether this CPU runs the packed kernels (AVX-512 with VNNI). Elsewhere weights stay in
    /// the GGUF layout and the AVX2 or portable kernels of `ad_gemm_q16` run.
    public static var supportedByThisCPU: Bool { ad_kernels_have_vnni() != 0 }

    /// The bytes `w` takes packed in `layout`.
    public static func byteCount(of w: WeightMatrix, layout: Layout) -> Int {
        layout == .pairs16 ? ad_packed16_bytes(w.integerKernelFormat, Int32(w.rows), Int32(w.cols))
                           : ad_packed8_bytes(w.integerKernelFormat, Int32(w.rows), Int32(w.cols))
    }

    /// Packs `w` (Q4_1 or Q8_0) in `layout` into memory of `arena`, row groups spread over
    /// `pool`'s threads. The arena must outlive every use of the packed rows.
    public init(_ w: WeightMatrix, layout: Layout, pool: ThreadPool, arena: HugePageArena) {
        precondition(w.acceptsQuantizedActivations, "only Q4_1 and Q8_0 are packed")
        let format = w.integerKernelFormat
        self.layout = layout
        byteCount = Self.byteCount(of: w, layout: layout)
        bytes = arena.allocate(byteCount: byteCount)
        let groups = (w.rows + 15) / 16
        let out = bytes
        pool.parallelFor(groups) { range in
            let (g0, g1) = (Int32(range.lowerBound), Int32(range.upperBound))
            switch layout {
            case .pairs16: ad_pack16(format, w.data, w.rowBytes, Int32(w.rows), Int32(w.cols), g0, g1, out)
            case .quads8: ad_pack8(format, w.data, w.rowBytes, Int32(w.rows), Int32(w.cols), g0, g1, out)
            }
        }
    }
}

extension WeightMatrix {
    /// This matrix with a 16-row packed copy in `arena` (which must outlive it) that the integer
    /// matrix product uses instead of the GGUF rows (which stay in place for dequantization and
    /// the float path).
    public func packedInto16Rows(layout: PackedRows16.Layout, pool: ThreadPool, arena: HugePageArena) -> WeightMatrix {
        var copy = self
        copy.packed = PackedRows16(self, layout: layout, pool: pool, arena: arena)
        return copy
    }
}
