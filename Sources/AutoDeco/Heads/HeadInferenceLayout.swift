import Foundation
import CKernels
import Kernels

/// A head's weights as inference reads them, in one piece of huge-page memory: the first layer's
/// rows (as bf16 when every weight is exactly a bf16 value, as in the released checkpoints: the
/// same products from half the bytes, and these rows are read from memory every token; or, in
/// the `.q8_0` format, the first 32 * q8Blocks columns as Q8_0 blocks, see `HeadQ8Rows`), its
/// bias, its last `trailingWidth` columns column after column (the top-p head's five scalar
/// inputs, added after the features are known: read in place they would be 256 scattered cache
/// lines), and the second layer's weights, together on one huge page where the kernel grants it.
///
/// The class owns the memory; what inference reads is `inference`, a value of plain pointers
/// (the decision's threads call it without reference counting).
final class HeadInferenceLayout: @unchecked Sendable {
    let arena: HugePageArena
    let inference: HeadInference

    init(first: Linear, second: Linear, format: HeadWeightFormat) {
        let plan = HeadInference.Plan(first: first, format: format)
        // Huge pages from 128 KiB: SmolLM2's 8-bit rows (157 KB) read from ~40 small pages every
        // token meant as many page walks.
        arena = HugePageArena(byteCount: plan.byteCount, hugeFrom: 128 << 10)
        inference = HeadInference(first: first, second: second, plan: plan, arena: arena)
    }
}

/// A head as inference reads it (see `HeadInferenceLayout`): plain pointers into its arena.
struct HeadInference: @unchecked Sendable {
    static let trailingWidth = 5
    /// [256, bf16Stride], an even stride (the AVX-512 kernel reads bf16 pairs as 32-bit lanes).
    let bf16Rows: UnsafeMutablePointer<UInt16>?
    let bf16Stride: Int
    /// The hidden-state columns as 8-bit blocks (the `.q8_0` format), or nil.
    let q8Rows: HeadQ8Rows?
    let q8Blocks: Int
    /// Zeros after the last row: the AVX-512 kernel reads rows in whole blocks of 32 weights.
    static let bf16Overrun = 32
    let bias: UnsafeMutablePointer<Float>
    let trailingColumns: UnsafeMutablePointer<Float>  // [trailingCount, 256]
    let secondWeights: UnsafeMutablePointer<Float>  // [256]
    let trailingCount: Int
    /// The first layer's input width, and its float weights when neither form above covers the
    /// hidden-state columns (float32 heads; widths off the 32-column grid).
    let inputs: Int
    let floatRows: UnsafeMutablePointer<Float>?
    let secondBias: Float
    static let width = HeadMLP.width

    /// The layout's shape and the bytes of its pieces: the floats (bias, trailing columns, second
    /// layer), the bf16 rows, the 8-bit rows, the float rows (0 for a piece it does not have).
    struct Plan {
        let q8Blocks: Int, bf16Stride: Int
        let floats: Int, bf16: Int, q8: Int, float: Int

        init(first: Linear, format: HeadWeightFormat) {
            let rows = first.outputs, inputs = first.inputs, k = min(HeadInference.trailingWidth, inputs)
            // The hidden-state columns: all of them for the temperature head, all but the five
            // features for the top-p head; the 8-bit form covers them when they are whole blocks.
            q8Blocks = format == .q8_0 ? inputs / 32 : 0
            let q8Covers = q8Blocks > 0 && (inputs % 32 == 0 || (inputs - k) % 32 == 0)
            let exact = q8Blocks == 0 && first.weight.allSatisfy { $0.bitPattern & 0xFFFF == 0 }
            bf16Stride = (inputs + 1) / 2 * 2
            floats = 4 * rows * (2 + k)
            bf16 = exact ? 2 * (rows * bf16Stride + HeadInference.bf16Overrun) : 0
            q8 = q8Blocks > 0 ? HeadQ8Rows.byteCount(rows: rows, blocks: q8Blocks) : 0
            float = exact || q8Covers ? 0 : 4 * rows * inputs
        }

        var byteCount: Int { HugePageArena.byteCount(pieces: [floats, bf16, q8, float]) }
    }

    /// Lays the head out in `arena` (at least `plan.byteCount`), which must outlive the value.
    init(first: Linear, second: Linear, plan sizes: Plan, arena: HugePageArena) {
        let rows = first.outputs, inputs = first.inputs, k = min(Self.trailingWidth, inputs)
        precondition(rows == Self.width && second.inputs == rows && second.outputs == 1, "head layer shapes")
        self.inputs = inputs
        secondBias = second.bias[0]
        q8Blocks = sizes.q8Blocks
        bf16Stride = sizes.bf16Stride
        let exact = sizes.bf16 > 0
        let floats = rows * (2 + k)
        let f = arena.allocate(byteCount: 4 * floats).bindMemory(to: Float.self, capacity: floats)
        bias = f; trailingColumns = f + rows; secondWeights = f + rows * (1 + k)
        trailingCount = k
        for r in 0..<rows {
            bias[r] = first.bias[r]
            secondWeights[r] = second.weight[r]
            for j in 0..<k { trailingColumns[j * rows + r] = first.weight[r * inputs + inputs - k + j] }
        }
        if exact {
            let count = rows * bf16Stride + Self.bf16Overrun
            let b = arena.allocate(byteCount: 2 * count).bindMemory(to: UInt16.self, capacity: count)
            b.initialize(repeating: 0, count: count)
            for r in 0..<rows {
                for c in 0..<inputs { b[r * bf16Stride + c] = UInt16(first.weight[r * inputs + c].bitPattern >> 16) }
            }
            bf16Rows = b
        } else {
            bf16Rows = nil
        }
        if sizes.float > 0 {
            let w = arena.allocate(byteCount: sizes.float).bindMemory(to: Float.self, capacity: rows * inputs)
            w.initialize(from: first.weight, count: rows * inputs)
            floatRows = w
        } else {
            floatRows = nil
        }
        q8Rows = q8Blocks > 0 ? HeadQ8Rows(first.weight, rows: rows, stride: inputs, blocks: q8Blocks, arena: arena) : nil
    }

    /// out[r] = b1[r] + W1[r, 0..<count] . main for r in `rows`: the part of the first layer that
    /// depends only on the hidden state (so both heads' can run in one parallel region).
    func preactivations(_ main: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let bias = self.bias
        if let q8 = q8Rows, count == 32 * q8Blocks {
            q8.preactivations(main, bias: bias, into: out, rows: rows)
            return
        }
        if let packed = bf16Rows {
            let stride = bf16Stride
            guard VectorOps.passesUseAVX512 else {
                let ahead = Int(AD_BF16_ROWS_AHEAD)
                for r in rows {
                    if r + ahead < rows.upperBound { ad_prefetch(packed + (r + ahead) * stride, 2 * stride) }
                    out[r] = bias[r] + dotBF16(packed + r * stride, main, count)
                }
                return
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (count + 31) / 32 * 32) { pairs in
                ad_bf16_split_pairs(main, Int32(count), pairs.baseAddress!)
                ad_bf16_rows_avx512(packed, stride, Int32(rows.lowerBound), Int32(rows.upperBound), Int32(count),
                                    pairs.baseAddress!, bias, out)
            }
            return
        }
        guard let w = floatRows else { preconditionFailure("no float rows for \(count) of \(inputs) inputs") }
        for r in rows { out[r] = bias[r] + dotF32(w + r * inputs, main, count) }
    }

    /// Where inference reads these rows of the first layer (nil for float32 rows): for asking for
    /// them ahead of `preactivations`.
    func inferenceBytes(rows: Range<Int>) -> UnsafeRawBufferPointer? {
        if let q8 = q8Rows { return q8.bytes(rows: rows) }
        if let packed = bf16Rows {
            return UnsafeRawBufferPointer(start: packed + rows.lowerBound * bf16Stride, count: 2 * rows.count * bf16Stride)
        }
        return nil
    }

    /// Adds the `extra` input columns (the last extra.count of the trailing ones) to the
    /// preactivations [256], then ReLU, the second layer and the sigmoid: 16 rows per step,
    /// without branches.
    func finish(_ pre: UnsafePointer<Float>, extra: UnsafeBufferPointer<Float>) -> Float {
        let k = trailingCount
        precondition(extra.count <= k, "head input width")
        let columns = trailingColumns + (k - extra.count) * Self.width, w2 = secondWeights
        var sum = SIMD16<Float>()
        for r in stride(from: 0, to: Self.width, by: 16) {
            var a = load16(pre + r)
            for j in 0..<extra.count { a.addProduct(load16(columns + j * Self.width + r), SIMD16(repeating: extra[j])) }
            sum.addProduct(a.replacing(with: 0, where: a .< 0), load16(w2 + r))
        }
        return output(sum.sum())
    }

    /// The second layer's part over `rows` of a head without extra inputs: w2[rows] . relu(pre[rows]).
    /// Threads that computed those preactivations add their part while it is in their caches;
    /// `output` then takes the sum of the parts.
    func secondLayerPart(_ pre: UnsafePointer<Float>, rows: Range<Int>) -> Float {
        var sum = SIMD16<Float>(), r = rows.lowerBound
        while r + 16 <= rows.upperBound {
            let a = load16(pre + r)
            sum.addProduct(a.replacing(with: 0, where: a .< 0), load16(secondWeights + r))
            r += 16
        }
        var tail: Float = 0
        while r < rows.upperBound { tail += max(pre[r], 0) * secondWeights[r]; r += 1 }
        return sum.sum() + tail
    }

    /// Asks for the second layer's weights of these rows (`secondLayerPart` reads them).
    func prefetchSecondLayer(rows: Range<Int>) {
        if !rows.isEmpty { ad_prefetch(secondWeights + rows.lowerBound, 4 * rows.count) }
    }

    /// sigmoid(b2 + the second layer's sum).
    func output(_ secondLayerSum: Float) -> Float { 1 / (1 + expf(-(secondBias + secondLayerSum))) }

    /// Asks for what `finish` reads (the trailing columns and the second layer's weights, 7 KB
    /// together) to be brought into this core's caches, without waiting for them.
    func prefetchFinish() {
        ad_prefetch(trailingColumns, 4 * (trailingCount + 1) * Self.width)
    }


    @inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }
}
