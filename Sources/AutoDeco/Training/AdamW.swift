import Foundation

/// AdamW (decoupled weight decay, as torch.optim.AdamW) over the parameters of both heads,
/// with linear warmup and cosine decay of the learning rate.
public struct AdamW: Sendable, Equatable, Codable {
    public var learningRate: Double
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8
    public var weightDecay: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public private(set) var step = 0
    private var m: [Double] = [], v: [Double] = []

    public init(learningRate: Double, weightDecay: Double = 0.01, warmupSteps: Int = 0, totalSteps: Int) {
        self.learningRate = learningRate; self.weightDecay = weightDecay
        self.warmupSteps = warmupSteps; self.totalSteps = max(totalSteps, 1)
    }

    /// The learning rate at `step` (1-based): linear warmup, then cosine decay to 10% of the peak.
    public func rate(at step: Int) -> Double {
        if step <= warmupSteps && warmupSteps > 0 { return learningRate * Double(step) / Double(warmupSteps) }
        let progress = Double(step - warmupSteps) / Double(max(totalSteps - warmupSteps, 1))
        return learningRate * (0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * min(progress, 1))))
    }

    /// The moments and step count, for a checkpoint (restored by `restore`).
    public var moments: (step: Int, m: [Double], v: [Double]) { (step, m, v) }

    public mutating func restore(step: Int, m: [Double], v: [Double]) {
        self.step = step; self.m = m; self.v = v
    }

    /// One update of `params` (flattened) with `grads`.
    public mutating func update(_ params: inout [Float], _ grads: [Double]) {
        if m.isEmpty { m = [Double](repeating: 0, count: params.count); v = m }
        precondition(m.count == params.count && grads.count == params.count, "AdamW: parameter count changed")
        step += 1
        let lr = rate(at: step)
        let c1 = 1 - pow(beta1, Double(step)), c2 = 1 - pow(beta2, Double(step))
        for i in params.indices {
            let g = grads[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            var p = Double(params[i])
            p -= lr * weightDecay * p
            p -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
            params[i] = Float(p)
        }
    }
}

extension HeadMLP {
    /// All parameters in one array (W1, b1, W2, b2), the layout `AdamW` updates.
    public var flatParameters: [Float] {
        get { first.weight + first.bias + second.weight + second.bias }
        set {
            let a = first.weight.count, b = first.bias.count, c = second.weight.count
            first = Linear(inputs: first.inputs, outputs: first.outputs, weight: Array(newValue[0..<a]), bias: Array(newValue[a..<(a + b)]))
            second = Linear(inputs: second.inputs, outputs: 1, weight: Array(newValue[(a + b)..<(a + b + c)]), bias: [newValue[a + b + c]])
        }
    }
}

extension HeadGradient {
    public var flat: [Double] { w1 + b1 + w2 + [b2] }
}
