import Foundation
import CKernels
import Kernels

/// A PyTorch `nn.Linear` in its own layout: weight [out, in] row-major, bias [out].
public struct Linear: Sendable, Equatable {
    public let inputs: Int
    public let outputs: Int
    public var weight: [Float]
    public var bias: [Float]

    public init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inputs * outputs && bias.count == outputs, "Linear shape mismatch")
        self.inputs = inputs; self.outputs = outputs; self.weight = weight; self.bias = bias
    }

    /// PyTorch's default initialisation (`reset_parameters`): Kaiming-uniform with a = sqrt(5),
    /// which bounds weights by 1/sqrt(in), and biases uniform in the same bound.
    public init<G: RandomNumberGenerator>(inputs: Int, outputs: Int, using g: inout G) {
        let bound = 1 / Float(inputs).squareRoot()
        self.init(inputs: inputs, outputs: outputs,
                  weight: (0..<(inputs * outputs)).map { _ in Float.random(in: -bound..<bound, using: &g) },
                  bias: (0..<outputs).map { _ in Float.random(in: -bound..<bound, using: &g) })
    }
}

/// How inference stores a head's first layer, the part read from memory every token (training
/// always works on the float weights).
public enum HeadWeightFormat: String, Sendable, CaseIterable {
    /// The checkpoint's values: bf16 rows when every weight is a bf16 value (the released
    /// checkpoints), else float32. The products are exact.
    case exact
    /// The hidden-state columns in blocks of 32 int8 weights with a float scale each (absmax / 127,
    /// as GGUF's Q8_0 with a float scale): 36 bytes per 32 weights instead of 64, so SmolLM2's two
    /// first layers read 0.33 MB per token instead of 0.59 MB. On the reference hidden states T
    /// moves by at most 2.3e-3 and P by 1.2e-4, as far as the official bf16 stack's own rounding
    /// moves them from exact (docs/performance.md, "AutoDeco overhead"). Applies when the hidden
    /// size is a multiple of 32 (every supported model); otherwise inference stays exact.
    case q8_0
}

/// `Linear(in, 256) -> ReLU -> Linear(256, 1) -> Sigmoid`, the body of both AutoDeco heads.
public struct HeadMLP: Sendable, Equatable {
    public static let width = 256
    public var first: Linear { didSet { derive() } }  // [256, in]
    public var second: Linear { didSet { derive() } }  // [1, 256]
    /// How inference stores the first layer (not part of equality: the same heads either way).
    public var inferenceFormat: HeadWeightFormat = .exact { didSet { derive() } }
    /// What inference reads every token, laid out for it (see `HeadInferenceLayout`).
    private var layout: HeadInferenceLayout

    public init(first: Linear, second: Linear) {
        self.first = first; self.second = second
        layout = HeadInferenceLayout(first: first, second: second, format: .exact)
    }

    private mutating func derive() { layout = HeadInferenceLayout(first: first, second: second, format: inferenceFormat) }

    public init<G: RandomNumberGenerator>(inputs: Int, using g: inout G) {
        self.init(first: Linear(inputs: inputs, outputs: Self.width, using: &g), second: Linear(inputs: Self.width, outputs: 1, using: &g))
    }

    public static func == (a: HeadMLP, b: HeadMLP) -> Bool { a.first == b.first && a.second == b.second }

    public var parameterCount: Int { first.weight.count + first.bias.count + second.weight.count + second.bias.count }

    /// sigmoid(w2 . relu(W1 [main, extra] + b1) + b2). The input is `main` (contiguous) followed by
    /// `extra` (the top-p head's five scalar features), without building the concatenation.
    public func callAsFunction(_ main: UnsafePointer<Float>, count: Int, extra: [Float] = []) -> Float {
        var pre = [Float](repeating: 0, count: Self.width)
        pre.withUnsafeMutableBufferPointer { preactivations(main, count: count, into: $0.baseAddress!, rows: 0..<Self.width) }
        return pre.withUnsafeBufferPointer { finish($0.baseAddress!, count: count, extra: extra) }
    }

    /// out[r] = b1[r] + W1[r, 0..<count] . main for r in `rows`: the part of the first layer that
    /// depends only on the hidden state (so both heads' can run in one parallel region).
    public func preactivations(_ main: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let inputs = first.inputs, bias = layout.bias
        if let q8 = layout.q8Rows, count == 32 * layout.q8Blocks {
            let rowBytes = layout.q8RowBytes, blocks = layout.q8Blocks
            if VectorOps.passesUseAVX512 {
                ad_q8_rows_avx512(q8, rowBytes, Int32(rows.lowerBound), Int32(rows.upperBound), Int32(blocks), main, bias, out)
            } else {
                let ahead = Int(AD_Q8_ROWS_AHEAD)
                for r in rows {
                    if r + ahead < rows.upperBound { ad_prefetch(q8 + (r + ahead) * rowBytes, rowBytes) }
                    out[r] = bias[r] + dotQ8Blocks(q8 + r * rowBytes, blocks: blocks, main)
                }
            }
            return
        }
        if let packed = layout.bf16Rows {
            let stride = layout.bf16Stride
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
        first.weight.withUnsafeBufferPointer { w in
            for r in rows { out[r] = bias[r] + dotF32(w.baseAddress! + r * inputs, main, count) }
        }
    }

    /// Where inference reads these rows of the first layer (nil for float32 rows, which live in
    /// `first.weight`): for asking for them ahead of `preactivations`.
    public func inferenceBytes(rows: Range<Int>) -> UnsafeRawBufferPointer? {
        if let q8 = layout.q8Rows {
            return UnsafeRawBufferPointer(start: q8 + rows.lowerBound * layout.q8RowBytes, count: rows.count * layout.q8RowBytes)
        }
        if let packed = layout.bf16Rows {
            return UnsafeRawBufferPointer(start: packed + rows.lowerBound * layout.bf16Stride, count: 2 * rows.count * layout.bf16Stride)
        }
        return nil
    }

    /// Whether inference reads the first layer as packed bf16 (its weights are all bf16 values).
    public var readsBF16Rows: Bool { layout.bf16Rows != nil }
    /// Whether inference reads the first layer's hidden-state columns as 8-bit blocks (`.q8_0`).
    public var readsQ8Rows: Bool { layout.q8Rows != nil }

    /// Adds the `extra` input columns (from index `count` on) to the preactivations, then ReLU,
    /// the second layer and the sigmoid: 16 rows per step, without branches.
    public func finish(_ pre: UnsafePointer<Float>, count: Int, extra: [Float]) -> Float {
        let k = layout.trailingCount
        precondition(count + extra.count == first.inputs && extra.count <= k, "head input width")
        let columns = layout.trailingColumns + (k - extra.count) * Self.width, w2 = layout.secondWeights
        var sum = SIMD16<Float>()
        for r in stride(from: 0, to: Self.width, by: 16) {
            var a = load16(pre + r)
            for j in 0..<extra.count { a.addProduct(load16(columns + j * Self.width + r), SIMD16(repeating: extra[j])) }
            sum.addProduct(a.replacing(with: 0, where: a .< 0), load16(w2 + r))
        }
        return 1 / (1 + expf(-(second.bias[0] + sum.sum())))
    }

    /// Asks for what `finish` reads (the trailing columns and the second layer's weights, 7 KB
    /// together) to be brought into this core's caches, without waiting for them.
    public func prefetchFinish() {
        ad_prefetch(layout.trailingColumns, 4 * (layout.trailingCount + 1) * Self.width)
    }

    @inline(__always) private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }
}

/// A head's weights as inference reads them, in one piece of huge-page memory: the first layer's
/// rows (as bf16 when every weight is exactly a bf16 value, as in the released checkpoints: the
/// same products from half the bytes, and these rows are read from memory every token; or, in
/// the `.q8_0` format, the first 32 * q8Blocks columns as 8-bit blocks with their scales), its
/// bias, its last `trailingWidth` columns column after column (the top-p head's five scalar
/// inputs, added after the features are known: read in place they would be 256 scattered cache
/// lines), and the second layer's weights, together on one huge page where the kernel grants it.
final class HeadInferenceLayout: @unchecked Sendable {
    static let trailingWidth = 5
    let arena: HugePageArena
    /// [256, bf16Stride], an even stride (the AVX-512 kernel reads bf16 pairs as 32-bit lanes).
    let bf16Rows: UnsafeMutablePointer<UInt16>?
    let bf16Stride: Int
    /// [256, q8RowBytes]: per row q8Blocks blocks of 32 int8, then their q8Blocks float scales.
    let q8Rows: UnsafeMutableRawPointer?
    let q8Blocks: Int
    var q8RowBytes: Int { 36 * q8Blocks }
    /// Zeros after the last row: the AVX-512 kernel reads rows in whole blocks of 32 weights.
    static let bf16Overrun = 32
    let bias: UnsafeMutablePointer<Float>
    let trailingColumns: UnsafeMutablePointer<Float>  // [trailingCount, 256]
    let secondWeights: UnsafeMutablePointer<Float>  // [256]
    let trailingCount: Int

    init(first: Linear, second: Linear, format: HeadWeightFormat) {
        let rows = first.outputs, inputs = first.inputs, k = min(Self.trailingWidth, inputs)
        // The hidden-state columns: all of them for the temperature head, all but the five
        // features for the top-p head (hidden sizes are multiples of 32).
        q8Blocks = format == .q8_0 ? inputs / 32 : 0
        let exact = q8Blocks == 0 && first.weight.allSatisfy { $0.bitPattern & 0xFFFF == 0 }
        let floats = rows * (2 + k)
        bf16Stride = (inputs + 1) / 2 * 2
        // Huge pages from 128 KiB: SmolLM2's 8-bit rows (166 KB) read from 41 small pages every
        // token meant as many page walks.
        arena = HugePageArena(byteCount: HugePageArena.byteCount(pieces: [4 * floats, exact ? 2 * (rows * bf16Stride + Self.bf16Overrun) : 0,
                                                                         rows * 36 * q8Blocks]), hugeFrom: 128 << 10)
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
        if q8Blocks > 0 {
            let rowBytes = 36 * q8Blocks
            let q = arena.allocate(byteCount: rows * rowBytes)
            for r in 0..<rows {
                Self.quantize(first.weight, from: r * inputs, blocks: q8Blocks, into: q + r * rowBytes)
            }
            q8Rows = q
        } else {
            q8Rows = nil
        }
    }

    /// Blocks of 32 weights from w[start...] as int8 q = round(w / d) with d = absmax / 127, the
    /// int8s first, then the scales d.
    static func quantize(_ w: [Float], from start: Int, blocks: Int, into out: UnsafeMutableRawPointer) {
        let q = out.bindMemory(to: Int8.self, capacity: 32 * blocks)
        let scales = (out + 32 * blocks).bindMemory(to: Float.self, capacity: blocks)
        for b in 0..<blocks {
            let block = w[(start + 32 * b)..<(start + 32 * b + 32)]
            let d = block.map { abs($0) }.max()! / 127
            scales[b] = d
            for (j, v) in block.enumerated() { q[32 * b + j] = d > 0 ? Int8((v / d).rounded()) : 0 }
        }
    }
}
