import CKernels
import Kernels

/// A head's first layer, its hidden-state columns, in 8 bits (`HeadWeightFormat.q8_0`): Q8_0
/// blocks (32 int8 weights and an f16 scale) against the hidden state rounded to int16 per
/// 32-value block, with the forward pass's own integer products: `ad_gemm_packed16` over rows
/// packed 16 at a time where the CPU has AVX-512 VNNI (a lane of `vpdpwssd` is a row, so a block
/// of 16 rows takes 16 instructions and no reduction across lanes), else `ad_gemm_q16` over GGUF
/// rows. The float kernel this replaced widened every weight to a float and reduced every row
/// across lanes: 2.4 µs for 128 rows from the caches, against ~0.4 µs here.
///
/// An f16 scale below 6.1e-5 is subnormal and loses its precision, and the scales of a head's
/// small weights can fall there (a block's largest weight below 7.8e-3). So each row keeps a
/// float scale, its largest block scale, and its blocks keep theirs relative to it, in (0, 1].
struct HeadQ8Rows: @unchecked Sendable {
    /// Packed groups of 16 rows, or GGUF Q8_0 rows of `blocks` blocks.
    let weights: UnsafeMutableRawPointer
    /// [rows] the factor of each row's block scales.
    let rowScales: UnsafeMutablePointer<Float>
    let rows: Int, blocks: Int
    let packed: Bool
    /// The C kernels' FORMAT_Q8_0.
    private static let format: Int32 = 2

    /// Packed rows where the VNNI kernel runs (else its portable C loop would).
    private static var packsRows: Bool { MatMul.packedKernelsUseVNNI }

    private static func weightBytes(rows: Int, blocks: Int, packed: Bool) -> Int {
        packed ? ad_packed16_bytes(format, Int32(rows), Int32(32 * blocks)) : rows * blocks * Q8_0.blockBytes
    }

    /// The arena bytes of a layer of `rows` rows of `blocks` blocks.
    static func byteCount(rows: Int, blocks: Int) -> Int {
        HugePageArena.byteCount(pieces: [4 * rows, weightBytes(rows: rows, blocks: blocks, packed: packsRows)])
    }

    /// Rounds the first 32 * blocks columns of each row of w ([rows, stride]) into `arena`.
    init(_ w: [Float], rows: Int, stride: Int, blocks: Int, arena: HugePageArena) {
        self.rows = rows; self.blocks = blocks
        packed = Self.packsRows
        rowScales = arena.allocate(byteCount: 4 * rows).bindMemory(to: Float.self, capacity: rows)
        weights = arena.allocate(byteCount: Self.weightBytes(rows: rows, blocks: blocks, packed: packed))
        let rowBytes = blocks * Q8_0.blockBytes
        let gguf = packed ? UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64) : weights
        defer { if packed { gguf.deallocate() } }
        for r in 0..<rows {
            rowScales[r] = Self.quantize(w, from: r * stride, blocks: blocks, into: gguf + r * rowBytes)
        }
        if packed {
            ad_pack16(Self.format, gguf, rowBytes, Int32(rows), Int32(32 * blocks), 0, Int32((rows + 15) / 16), weights)
        }
    }

    /// GGUF Q8_0 blocks of w[start..<start + 32 * blocks]: q = round(w / d) with d the block's
    /// absmax / 127, stored as an f16 fraction of the returned row scale (the largest d).
    private static func quantize(_ w: [Float], from start: Int, blocks: Int, into out: UnsafeMutableRawPointer) -> Float {
        let steps = (0..<blocks).map { b in w[(start + 32 * b)..<(start + 32 * b + 32)].reduce(0) { max($0, abs($1)) } / 127 }
        let rowScale = steps.max() ?? 0
        for b in 0..<blocks {
            let block = out + b * Q8_0.blockBytes
            let relative = rowScale > 0 ? Float16(steps[b] / rowScale) : 0
            block.storeBytes(of: relative.bitPattern, as: UInt16.self)
            let d = Float(relative) * rowScale
            let q = (block + 2).bindMemory(to: Int8.self, capacity: 32)
            for j in 0..<32 {
                // d rounded down to f16 may put the largest weight a hair past 127 steps.
                q[j] = d > 0 ? Int8(max(-127, min(127, (w[start + 32 * b + j] / d).rounded()))) : 0
            }
        }
        return rowScale
    }

    /// out[r] = bias[r] + W[r] . x for r in `rows`, x the 32 * blocks hidden-state values.
    func preactivations(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows range: Range<Int>) {
        guard !range.isEmpty else { return }
        let cols = 32 * blocks, (r0, r1) = (Int32(range.lowerBound), Int32(range.upperBound))
        // Each thread rounds its own copy of x: tens of nanoseconds, less than sharing one would cost.
        withUnsafeTemporaryAllocation(of: Int16.self, capacity: cols) { qx in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * blocks) { scales in
                let dx = scales.baseAddress!, sx = dx + blocks
                ad_quantize_q16(x, Int32(cols), qx.baseAddress!, dx, sx)
                if packed {
                    ad_gemm_packed16(Self.format, weights, Int32(cols), r0, r1, qx.baseAddress!, dx, sx, 1, out, rows, nil)
                } else {
                    ad_gemm_q16(Self.format, weights, blocks * Q8_0.blockBytes, Int32(cols), r0, r1, qx.baseAddress!, dx, sx, 1, out, rows)
                }
            }
        }
        for r in range { out[r] = bias[r] + rowScales[r] * out[r] }
    }

    /// Where `preactivations` reads these rows (whole 16-row groups when packed).
    func bytes(rows range: Range<Int>) -> UnsafeRawBufferPointer {
        guard packed else {
            let rowBytes = blocks * Q8_0.blockBytes
            return UnsafeRawBufferPointer(start: weights + range.lowerBound * rowBytes, count: range.count * rowBytes)
        }
        let groupBytes = Int(ad_packed16_bytes(Self.format, 16, Int32(32 * blocks)))
        let g0 = range.lowerBound / 16, g1 = (range.upperBound + 15) / 16
        return UnsafeRawBufferPointer(start: weights + g0 * groupBytes, count: (g1 - g0) * groupBytes)
    }
}
