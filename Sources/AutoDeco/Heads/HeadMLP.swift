import Foundation
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
    /// The hidden-state columns as GGUF Q8_0 blocks (32 int8 weights, absmax / 127, with an f16
    /// scale relative to a float scale per row), multiplied with the hidden state rounded to 16
    /// bits per block, by the forward pass's integer kernels (`HeadQ8Rows`): 34 bytes per 32
    /// weights instead of 64, so SmolLM2's two first layers read 0.31 MB per token instead of 0.59
    /// MB. On the reference hidden states T moves by at most 2.1e-3 and P by 2.3e-4, as far as the
    /// official bf16 stack's own rounding moves them from exact (docs/performance.md, "AutoDeco
    /// overhead"). Applies when the hidden size is a multiple of 32 (every supported model);
    /// otherwise inference stays exact.
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
        layout.inference.preactivations(main, count: count, into: out, rows: rows)
    }

    /// Where inference reads these rows of the first layer (nil for float32 rows): for asking for
    /// them ahead of `preactivations`.
    public func inferenceBytes(rows: Range<Int>) -> UnsafeRawBufferPointer? { layout.inference.inferenceBytes(rows: rows) }

    /// Whether inference reads the first layer as packed bf16 (its weights are all bf16 values).
    public var readsBF16Rows: Bool { layout.inference.bf16Rows != nil }
    /// Whether inference reads the first layer's hidden-state columns as 8-bit blocks (`.q8_0`).
    public var readsQ8Rows: Bool { layout.inference.q8Rows != nil }

    /// Adds the `extra` input columns (from index `count` on) to the preactivations, then ReLU,
    /// the second layer and the sigmoid.
    public func finish(_ pre: UnsafePointer<Float>, count: Int, extra: [Float]) -> Float {
        precondition(count + extra.count == first.inputs && extra.count <= layout.inference.trailingCount, "head input width")
        return extra.withUnsafeBufferPointer { layout.inference.finish(pre, extra: $0) }
    }

    /// What inference reads, by plain pointers (the decision's hot path: nothing to retain or
    /// chase); valid while this head's layout lives (the controller keeps its heads).
    var inference: HeadInference { layout.inference }
}
