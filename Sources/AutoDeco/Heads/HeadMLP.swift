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

/// `Linear(in, 256) -> ReLU -> Linear(256, 1) -> Sigmoid`, the body of both AutoDeco heads.
public struct HeadMLP: Sendable, Equatable {
    public static let width = 256
    public var first: Linear { didSet { derive() } }  // [256, in]
    public var second: Linear  // [1, 256]
    /// The first layer's weights as bf16 when every weight is exactly a bf16 value (as in the
    /// released checkpoints): the same products from half the bytes, which matters because these
    /// weights are read from memory every token.
    private var firstBF16: [UInt16]?
    /// The first layer's last `trailingWidth` columns, row after row ([256, trailingWidth]): the
    /// top-p head's five scalar inputs (kept for either head; the temperature head's are hidden-state
    /// columns, read in place). Read in place they would be 256 cache lines of a matrix
    /// that is no longer cached by the time the features are known.
    private var trailingColumns: [Float] = []
    static let trailingWidth = 5

    public init(first: Linear, second: Linear) {
        self.first = first; self.second = second
        derive()
    }

    private mutating func derive() {
        firstBF16 = Self.packIfExact(first.weight)
        let k = min(Self.trailingWidth, first.inputs), inputs = first.inputs
        trailingColumns = (0..<(first.outputs * k)).map { i in first.weight[(i / k) * inputs + inputs - k + i % k] }
    }

    public init<G: RandomNumberGenerator>(inputs: Int, using g: inout G) {
        self.init(first: Linear(inputs: inputs, outputs: Self.width, using: &g), second: Linear(inputs: Self.width, outputs: 1, using: &g))
    }

    public static func == (a: HeadMLP, b: HeadMLP) -> Bool { a.first == b.first && a.second == b.second }

    private static func packIfExact(_ w: [Float]) -> [UInt16]? {
        var out = [UInt16](repeating: 0, count: w.count)
        for (i, v) in w.enumerated() {
            guard v.bitPattern & 0xFFFF == 0 else { return nil }
            out[i] = UInt16(v.bitPattern >> 16)
        }
        return out
    }

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
        let inputs = first.inputs
        if let packed = firstBF16 {
            packed.withUnsafeBufferPointer { w in
                for r in rows { out[r] = first.bias[r] + dotBF16(w.baseAddress! + r * inputs, main, count) }
            }
            return
        }
        first.weight.withUnsafeBufferPointer { w in
            for r in rows { out[r] = first.bias[r] + dotF32(w.baseAddress! + r * inputs, main, count) }
        }
    }

    /// Adds the `extra` input columns (from index `count` on) to the preactivations, then ReLU,
    /// the second layer and the sigmoid.
    public func finish(_ pre: UnsafePointer<Float>, count: Int, extra: [Float]) -> Float {
        let k = min(Self.trailingWidth, first.inputs)
        precondition(count + extra.count == first.inputs && extra.count <= k, "head input width")
        var out = second.bias[0]
        let offset = k - extra.count
        trailingColumns.withUnsafeBufferPointer { w in
            second.weight.withUnsafeBufferPointer { w2 in
                for r in 0..<Self.width {
                    var a = pre[r]
                    let row = w.baseAddress! + r * k + offset
                    for j in 0..<extra.count { a += row[j] * extra[j] }
                    if a > 0 { out += w2[r] * a }
                }
            }
        }
        return 1 / (1 + expf(-out))
    }
}
