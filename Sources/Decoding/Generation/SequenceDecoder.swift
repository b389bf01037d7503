import Foundation
import Tokenizers

/// What happens to one sequence after its logits are known: the controller's decision combined
/// with the user's settings, the seeded draw, detokenization, stop strings and end tokens.
/// The single-sequence `Generator` and the `BatchGenerator` both step sequences through it.
struct SequenceDecoder {
    let parameters: GenerateParameters
    let controller: any DecodingController
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stopper: StopStringMatcher
    private let penalty: RepetitionPenalty
    private let endTokens: Set<Int32>
    private(set) var generated = 0
    private(set) var temperatureRange = RunningRange(), topPRange = RunningRange()
    /// Whether nothing reads a token's logits after the controller, except through the weights it
    /// returns: no log-probabilities, no heuristic filter (they read the logits), no penalties
    /// (the controller then sees a copy), and the user's temperature 1 (the sampler then draws at
    /// the controller's temperature from its weights). The controller may then leave its weights
    /// in place of the logits.
    private let logitsEndWithController: Bool

    init(parameters: GenerateParameters, controller: any DecodingController, tokenizer: any Tokenizer) {
        self.parameters = parameters
        self.controller = controller
        sampler = Sampler(parameters: parameters.sampling)
        // With alternatives, the token's log-probability comes from their pass (below).
        sampler.computesLogprobs = parameters.logprobs && parameters.topLogprobs == 0
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, renderSpecial: false)
        stopper = StopStringMatcher(parameters.stopStrings)
        penalty = RepetitionPenalty(presence: parameters.presencePenalty, frequency: parameters.frequencyPenalty)
        endTokens = Set(tokenizer.endOfGenerationTokenIDs)
        logitsEndWithController = !parameters.logprobs && parameters.topLogprobs == 0 && parameters.sampling.filter == nil
            && !penalty.isActive && parameters.sampling.temperature == 1
    }

    /// Samples the next token from `logits` (and the hidden state the controller reads).
    /// `roomLeft`: whether the KV cache can take this token for a further step. Returns the
    /// token (its text includes anything held back when it is the last) and, when the sequence
    /// ends with it, why.
    /// Presence and frequency penalties apply to the logits the sampler draws from; the controller
    /// sees the raw LM-head logits (the AutoDeco statistics are always theirs: AUTODECO.md, §3).
    /// `onThisThread`: the controller starts no parallel work (this call is one of several that
    /// run in parallel). The logits may be overwritten (with the sampler's weights). `maxLogit`:
    /// the largest raw logit, when the forward pass took it.
    mutating func next(hidden: UnsafeBufferPointer<Float>, logits raw: UnsafeMutableBufferPointer<Float>, maxLogit: Float? = nil,
                       roomLeft: Bool, onThisThread: Bool = false) -> (token: GeneratedToken, finished: StopReason?) {
        let p = parameters
        let logits = penalty.apply(UnsafeBufferPointer(raw))
        let unpenalized = UnsafeBufferPointer(raw)
        var decision = logitsEndWithController
            ? controller.decide(hidden: hidden, consuming: raw, maxLogit: maxLogit, onThisThread: onThisThread)
            : onThisThread ? controller.decideOnThisThread(hidden: hidden, logits: unpenalized) : controller.decide(hidden: hidden, logits: unpenalized)
        // The controller's weights are the raw logits'; the sampler draws from the penalized ones.
        if penalty.isActive { decision.weights = nil }
        let d = decision.combined(userTemperature: p.sampling.temperature, userTopP: p.sampling.topP)
        var s = sampler.sample(logits: logits, temperature: d.temperature, topP: d.topP, weights: d.weights)
        let (alternatives, logZ) = TopLogprobs.select(logits, k: p.topLogprobs)
        if !alternatives.isEmpty { s.logprob = logits[Int(s.id)] - logZ }  // the same normaliser as the alternatives
        penalty.record(s.id)
        temperatureRange.add(d.temperature); topPRange.add(d.topP)
        generated += 1
        func token(_ text: String) -> GeneratedToken {
            GeneratedToken(id: s.id, text: text, logprob: s.logprob, temperature: d.temperature, topP: d.topP, topLogprobs: alternatives)
        }
        if p.stopOnEndOfGeneration && endTokens.contains(s.id) {
            return (token(detokenizer.flush() + stopper.flush()), .stop)
        }
        let (emit, stopped) = stopper.append(detokenizer.append(s.id))
        let isLast = stopped || generated >= p.maxTokens || !roomLeft
        let tail = isLast && !stopped ? stopper.append(detokenizer.flush()).emit + stopper.flush() : ""
        return (token(emit + tail), stopped ? .stop : isLast ? .length : nil)
    }
}
