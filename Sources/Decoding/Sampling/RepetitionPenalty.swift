/// OpenAI's presence and frequency penalties: every token already generated in this sequence
/// has its logit lowered by `presence` once and by `frequency` per occurrence
/// (l'[t] = l[t] - presence * [count(t) > 0] - frequency * count(t)). Negative values
/// encourage repetition. The prompt does not count, as in the OpenAI API.
/// One instance per sequence (it keeps that sequence's counts and a scratch copy of the logits).
public final class RepetitionPenalty {
    public let presence: Float
    public let frequency: Float
    private var counts: [Int32: Int] = [:]
    private var scratch = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    public init(presence: Float, frequency: Float) { self.presence = presence; self.frequency = frequency }
    deinit { scratch.deallocate() }

    public var isActive: Bool { presence != 0 || frequency != 0 }

    public func record(_ token: Int32) { if isActive { counts[token, default: 0] += 1 } }

    /// The penalised logits: `logits` itself while nothing is penalised, else a copy (the model's
    /// output stays intact) valid until the next call.
    public func apply(_ logits: UnsafeBufferPointer<Float>) -> UnsafeBufferPointer<Float> {
        guard isActive, !counts.isEmpty else { return logits }
        if scratch.count != logits.count {
            scratch.deallocate()
            scratch = .allocate(capacity: logits.count)
        }
        _ = scratch.initialize(from: logits)
        for (token, n) in counts where Int(token) < scratch.count {
            scratch[Int(token)] -= presence + frequency * Float(n)
        }
        return UnsafeBufferPointer(scratch)
    }
}
