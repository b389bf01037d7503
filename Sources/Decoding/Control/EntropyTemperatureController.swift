import Foundation

/// Temperature from the entropy of the model's distribution, per token (spec §8). H is the
/// entropy of softmax(logits) at T = 1 over the whole vocabulary, in nats.
public enum EntropyTemperatureRule: Sendable, Equatable {
    /// Entropy-based dynamic temperature (EDT): T = t0 * base^(theta / max(H, 1e-5)).
    case edt(t0: Float, theta: Float, base: Float)
    /// llama.cpp's dynamic temperature: T = (t - delta) + 2 delta (H / ln V)^exponent, the lower
    /// end clamped at 0 (llama.cpp normalises over the candidates left by earlier filters; here
    /// nothing precedes it, so over the vocabulary).
    case dynatemp(t: Float, delta: Float, exponent: Float)

    public func temperature(entropy h: Double, vocabularySize v: Int) -> Float {
        switch self {
        case .edt(let t0, let theta, let base):
            return t0 * Float(pow(Double(base), Double(theta) / max(h, 1e-5)))
        case .dynatemp(let t, let delta, let exponent):
            let lo = max(0, t - delta), hi = t + delta
            let normalised = v > 1 ? min(max(h / log(Double(v)), 0), 1) : 0
            return lo + (hi - lo) * Float(pow(normalised, Double(exponent)))
        }
    }
}

/// A decoding controller that sets each token's temperature by an `EntropyTemperatureRule`
/// (top-p stays the user's).
public final class EntropyTemperatureController: DecodingController {
    public let rule: EntropyTemperatureRule
    public init(rule: EntropyTemperatureRule) { self.rule = rule }

    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        DecodingDecision(temperature: rule.temperature(entropy: softmaxEntropy(logits), vocabularySize: logits.count), topP: 1)
    }
}
