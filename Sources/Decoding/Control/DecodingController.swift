/// exp((logit - maxLogit) / temperature) for every token, as a controller computed them (the
/// AutoDeco top-p features need them); the sampler reuses them instead of a second pass when it
/// samples at that same temperature. Valid until the controller's next decision.
public struct ScaledWeights: @unchecked Sendable {
    public let temperature: Float
    public let maxLogit: Float
    public let sum: Float
    public let weights: UnsafePointer<Float>
    public let count: Int
    public init(temperature: Float, maxLogit: Float, sum: Float, weights: UnsafePointer<Float>, count: Int) {
        self.temperature = temperature; self.maxLogit = maxLogit; self.sum = sum; self.weights = weights; self.count = count
    }
}

/// The temperature and top-p a controller predicts for one token (before the user's settings
/// are combined in).
public struct DecodingDecision: Sendable, Equatable {
    public var temperature: Float
    public var topP: Float
    /// The weights at `temperature`, if the controller computed them.
    public var weights: ScaledWeights?

    public init(temperature: Float, topP: Float, weights: ScaledWeights? = nil) {
        self.temperature = temperature; self.topP = topP; self.weights = weights
    }

    public static func == (a: DecodingDecision, b: DecodingDecision) -> Bool { a.temperature == b.temperature && a.topP == b.topP }

    /// What a static controller predicts: the neutral element of the combination rule.
    public static let neutral = DecodingDecision(temperature: 1, topP: 1)

    /// The official AutoDeco inference rule: final T = T_pred * user T (user T = 0 means greedy),
    /// final P = clamp(P_pred * user P, 0, 1).
    public func combined(userTemperature: Float, userTopP: Float) -> DecodingDecision {
        DecodingDecision(temperature: userTemperature == 0 ? 0 : temperature * userTemperature,
                         topP: min(max(topP * userTopP, 0), 1), weights: userTemperature == 1 ? weights : nil)
    }
}

/// Turns a token's final hidden state and logits into the temperature and top-p to sample it
/// with: the AutoDeco heads, a heuristic, or fixed values. One instance serves one sequence
/// at a time (it may keep scratch buffers).
public protocol DecodingController: AnyObject {
    /// `hidden`: the LM head's input [H]; `logits`: the raw LM-head output [V].
    func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision
    /// The same decision (to the bit) without starting parallel work: the batch generator calls
    /// this for several sequences at once, one sequence per thread of the pool. A controller whose
    /// `decide` runs work on a thread pool must implement it (a pool region started from inside
    /// another would wait forever); the default calls `decide`.
    func decideOnThisThread(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision
    /// The same decision (`decideOnThisThread`'s when `onThisThread`) for a caller that reads the
    /// logits no more afterwards, except through the decision's weights: the controller may leave
    /// the weights in place of the logits rather than in a buffer of its own, whose lines every
    /// forward pass evicts, so that writing them first reads them from memory (the AutoDeco
    /// controller does: docs/performance.md, "AutoDeco overhead"). A decision without weights
    /// leaves the logits as they were. `maxLogit`: the largest of the logits, when the forward
    /// pass took it (saves the AutoDeco controller a pass over them). The default decides
    /// without writing.
    func decide(hidden: UnsafeBufferPointer<Float>, consuming logits: UnsafeMutableBufferPointer<Float>,
                maxLogit: Float?, onThisThread: Bool) -> DecodingDecision
}

extension DecodingController {
    /// Controllers that use no threads of their own decide the same way either way.
    public func decideOnThisThread(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        decide(hidden: hidden, logits: logits)
    }

    public func decide(hidden: UnsafeBufferPointer<Float>, consuming logits: UnsafeMutableBufferPointer<Float>,
                       maxLogit: Float?, onThisThread: Bool) -> DecodingDecision {
        onThisThread ? decideOnThisThread(hidden: hidden, logits: UnsafeBufferPointer(logits)) : decide(hidden: hidden, logits: UnsafeBufferPointer(logits))
    }

    /// The consuming decision without a known maximum.
    public func decide(hidden: UnsafeBufferPointer<Float>, consuming logits: UnsafeMutableBufferPointer<Float>, onThisThread: Bool) -> DecodingDecision {
        decide(hidden: hidden, consuming: logits, maxLogit: nil, onThisThread: onThisThread)
    }
}

/// The user's own settings, unchanged: predicts T = 1 and P = 1, so the combination rule
/// leaves the user's temperature and top-p as they are.
public final class StaticController: DecodingController {
    public init() {}
    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision { .neutral }
}
