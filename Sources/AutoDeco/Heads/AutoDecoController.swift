import Decoding

/// The AutoDeco decoding controller: the heads predict each token's temperature and top-p
/// from the final hidden state and the raw logits. Either head can be switched off for
/// ablations; it then predicts 1, which the combination rule turns into the user's value.
///
/// ```swift
/// let generator = Generator(model: lm, controller: AutoDecoController(heads: heads))
/// ```
public final class AutoDecoController: DecodingController {
    public let heads: AutoDecoHeads
    public var useTemperatureHead: Bool
    public var useTopPHead: Bool
    /// exp of the scaled logits, reused across tokens: [vocab].
    private var scratch: [Float] = []

    public init(heads: AutoDecoHeads, useTemperatureHead: Bool = true, useTopPHead: Bool = true) {
        self.heads = heads
        self.useTemperatureHead = useTemperatureHead && heads.temperatureHeadEnabled
        self.useTopPHead = useTopPHead && heads.topPHeadEnabled
    }

    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        guard let h = hidden.baseAddress, hidden.count == heads.hiddenSize else { return .neutral }
        let t = useTemperatureHead ? heads.temperature(hidden: h) : 1
        guard useTopPHead else { return DecodingDecision(temperature: t, topP: 1) }
        if scratch.count < logits.count { scratch = [Float](repeating: 0, count: logits.count) }
        let features = scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: logits, temperature: t, scratch: $0.baseAddress!) }
        return DecodingDecision(temperature: t, topP: heads.topP(hidden: h, temperature: t, features: features))
    }
}
