import Foundation
import Kernels

/// The AutoDeco heads of one base model, exactly as the official modules compute them:
/// T = 2 sigmoid(MLP_T(h)); P = sigmoid(MLP_P([h, T, max_prob, entropy, prob_var, top5_sum])).
///
/// ```swift
/// let heads = try AutoDecoCheckpoint.load(directory: "heads/", hiddenSize: 576, baseModelType: "llama")
/// let t = heads.temperature(hidden: h)
/// let p = heads.topP(hidden: h, temperature: t, features: LogitFeatures(logits: l, temperature: t, scratch: buf))
/// ```
public struct AutoDecoHeads: Sendable, Equatable {
    public let hiddenSize: Int
    public var temperatureHead: HeadMLP   // in: H
    public var topPHead: HeadMLP          // in: H + 5
    /// Whether the checkpoint enables each head (config `enable_temperature_head` / `enable_top_p_head`).
    public var temperatureHeadEnabled = true
    public var topPHeadEnabled = true

    public init(hiddenSize: Int, temperatureHead: HeadMLP, topPHead: HeadMLP) {
        precondition(temperatureHead.first.inputs == hiddenSize && topPHead.first.inputs == hiddenSize + 5, "head input sizes")
        self.hiddenSize = hiddenSize; self.temperatureHead = temperatureHead; self.topPHead = topPHead
    }

    /// New heads initialised as PyTorch initialises `nn.Linear`, for training.
    public init(hiddenSize: Int, seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        self.init(hiddenSize: hiddenSize, temperatureHead: HeadMLP(inputs: hiddenSize, using: &g),
                  topPHead: HeadMLP(inputs: hiddenSize + 5, using: &g))
    }

    /// How inference stores both heads' first layers (`HeadWeightFormat`); training is unaffected.
    public var inferenceFormat: HeadWeightFormat {
        get { temperatureHead.inferenceFormat }
        set { temperatureHead.inferenceFormat = newValue; topPHead.inferenceFormat = newValue }
    }

    public var parameterCount: Int { temperatureHead.parameterCount + topPHead.parameterCount }

    /// T_t in (0, 2).
    public func temperature(hidden h: UnsafePointer<Float>) -> Float {
        2 * temperatureHead(h, count: hiddenSize)
    }

    /// P_t in (0, 1), from the hidden state, the raw temperature T_t and the logit features.
    public func topP(hidden h: UnsafePointer<Float>, temperature t: Float, features f: LogitFeatures) -> Float {
        topPHead(h, count: hiddenSize, extra: [t, f.maxProb, f.entropy, f.probVariance, f.top5Sum])
    }
}
