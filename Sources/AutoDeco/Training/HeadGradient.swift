import Foundation

/// Gradients of one head's parameters, in the layout of `HeadMLP` (double precision: they are
/// sums over thousands of positions).
public struct HeadGradient: Sendable, Equatable {
    public var w1: [Double]  // [256, in]
    public var b1: [Double]  // [256]
    public var w2: [Double]  // [256]
    public var b2: Double

    public init(inputs: Int) {
        w1 = [Double](repeating: 0, count: HeadMLP.width * inputs)
        b1 = [Double](repeating: 0, count: HeadMLP.width)
        w2 = [Double](repeating: 0, count: HeadMLP.width)
        b2 = 0
    }

    public mutating func scale(by s: Double) {
        for i in w1.indices { w1[i] *= s }
        for i in b1.indices { b1[i] *= s }
        for i in w2.indices { w2[i] *= s }
        b2 *= s
    }

    public mutating func add(_ o: HeadGradient) {
        for i in w1.indices { w1[i] += o.w1[i] }
        for i in b1.indices { b1[i] += o.b1[i] }
        for i in w2.indices { w2[i] += o.w2[i] }
        b2 += o.b2
    }
}

extension HeadMLP {
    /// The sigmoid output and the first layer's preactivations, kept for `backward`.
    public func forwardForTraining(_ x: [Float]) -> (output: Double, pre: [Double]) {
        let inputs = first.inputs
        var pre = [Double](repeating: 0, count: Self.width)
        var out = Double(second.bias[0])
        for r in 0..<Self.width {
            var a = Double(first.bias[r])
            let row = r * inputs
            for j in 0..<inputs { a += Double(first.weight[row + j]) * Double(x[j]) }
            pre[r] = a
            if a > 0 { out += Double(second.weight[r]) * a }
        }
        return (1 / (1 + exp(-out)), pre)
    }

    /// Accumulates into `g` the gradient of a loss whose derivative with respect to this head's
    /// sigmoid output is `dOutput`, at input `x` with the cached forward values.
    public func backward(_ x: [Float], output s: Double, pre: [Double], dOutput: Double, into g: inout HeadGradient) {
        let inputs = first.inputs
        let dz = dOutput * s * (1 - s)          // through the sigmoid
        g.b2 += dz
        for r in 0..<Self.width where pre[r] > 0 {
            g.w2[r] += dz * pre[r]
            let dpre = dz * Double(second.weight[r])  // through the ReLU (active units only)
            g.b1[r] += dpre
            let row = r * inputs
            for j in 0..<inputs { g.w1[row + j] += dpre * Double(x[j]) }
        }
    }
}
