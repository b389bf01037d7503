import Foundation
import Models
import Tokenizers

/// One generation for the `BatchGenerator`.
public struct BatchRequest {
    /// The caller's tag, returned with every token and the result.
    public var id: Int
    public var prompt: [Int32]
    public var parameters: GenerateParameters
    /// This sequence's own controller (controllers keep per-sequence scratch).
    public var controller: any DecodingController

    public init(id: Int, prompt: [Int32], parameters: GenerateParameters, controller: any DecodingController = StaticController()) {
        self.id = id; self.prompt = prompt; self.parameters = parameters; self.controller = controller
    }
}

/// What a `BatchGenerator`'s supplier answers when asked for work.
public enum BatchSupply {
    case request(BatchRequest)
    /// Nothing waiting now; ask again after the next step.
    case none
    /// No more requests: finish the running ones and return.
    case end
}

/// A finished generation of the `BatchGenerator`.
public struct BatchResult: Sendable {
    public var id: Int
    public var tokens: [GeneratedToken]
    public var promptTokens: Int
    public var stopReason: StopReason
    public var text: String { tokens.map(\.text).joined() }
}

/// Throughput of a `BatchGenerator.run`.
public struct BatchStatistics: Sendable, Equatable {
    /// Prompt tokens computed, and prompt tokens whose cache rows were copied from another sequence.
    public var promptTokens = 0
    public var reusedPromptTokens = 0
    public var generatedTokens = 0
    public var forwardPasses = 0
    public var seconds = 0.0
    public var generatedTokensPerSecond: Double { seconds > 0 ? Double(generatedTokens) / seconds : 0 }
}

/// Continuous batching: up to `slots` sequences are decoded together, one forward pass per step
/// carrying every active sequence's next token (and the prompts of sequences that just joined);
/// a finished sequence leaves at once and the next request takes its slot. Each sequence has
/// its own KV cache, sampler (seed), controller and stop conditions, so its tokens do not depend
/// on what it was batched with (up to the summation order of the batched matrix products).
/// A new sequence whose prompt starts like the tokens held in some slot's cache (the K samples
/// of one problem, the next turn of a chat) copies that prefix instead of recomputing it.
public final class BatchGenerator: @unchecked Sendable {
    public let model: LoadedModel
    public let slots: Int
    private let contexts: [ModelContext]
    private let workspace: Workspace
    /// The tokens whose keys and values each slot's cache holds.
    private var slotTokens: [[Int32]]
    /// Prompt tokens one sequence sends per step (bounds scratch memory on long prompts).
    static let prefillChunk = 256

    public init(model: LoadedModel, slots: Int, contextSize: Int) {
        self.model = model
        self.slots = max(1, slots)
        contexts = (0..<self.slots).map { _ in model.model.makeContext(capacity: contextSize) }
        workspace = model.model.makeWorkspace()
        slotTokens = Array(repeating: [], count: self.slots)
    }

    /// Puts the longest cached prefix of `prompt` (at most all but its last token, whose logits
    /// are needed) into `slot`'s cache; returns its length.
    private func reusePrefix(of prompt: [Int32], into slot: Int) -> Int {
        func common(_ a: [Int32]) -> Int {
            var n = 0
            let limit = min(a.count, prompt.count - 1)
            while n < limit && a[n] == prompt[n] { n += 1 }
            return n
        }
        var best = slot, bestLength = common(slotTokens[slot])
        for s in slotTokens.indices where s != slot {
            let n = common(slotTokens[s])
            if n > bestLength { best = s; bestLength = n }
        }
        let cache = contexts[slot].cache
        if best == slot { cache.truncate(to: bestLength) } else { cache.copyPrefix(from: contexts[best].cache, count: bestLength) }
        slotTokens[slot] = Array(prompt[0..<bestLength])
        return bestLength
    }

    public var contextSize: Int { contexts[0].cache.capacity }

    private struct Active {
        var request: BatchRequest
        var slot: Int
        var prefilled = 0           // prompt tokens already in the cache
        var pending: Int32?         // the sampled token still to be fed
        var decoder: SequenceDecoder
        var tokens: [GeneratedToken] = []
    }

    /// Runs requests pulled from `next` (nil: no more) until all are done. `onToken` sees every
    /// token as it is sampled, `onFinish` every finished sequence; `isCancelled(id)` ends a
    /// sequence early (finish reason `.cancelled`). Results arrive in completion order.
    @discardableResult
    public func run(next: () -> BatchRequest?,
                    onToken: (Int, GeneratedToken) -> Void = { _, _ in },
                    isCancelled: (Int) -> Bool = { _ in false },
                    onFinish: (BatchResult) throws -> Void) throws -> BatchStatistics {
        try run(supply: { _ in next().map(BatchSupply.request) ?? .end }, onToken: onToken, isCancelled: isCancelled, onFinish: onFinish)
    }

    /// The open-ended form of `run(next:)` for a server: `supply(idle)` is asked for a request
    /// whenever a slot is free; it answers `.none` when nothing is waiting (the running sequences
    /// go on) and `.end` when no more will come. `idle` is true when no sequence is running: the
    /// supplier should then block until it has work (or answer `.end`), since answering `.none`
    /// would only make the loop ask again.
    @discardableResult
    public func run(supply: (_ idle: Bool) -> BatchSupply,
                    onToken: (Int, GeneratedToken) -> Void = { _, _ in },
                    isCancelled: (Int) -> Bool = { _ in false },
                    onFinish: (BatchResult) throws -> Void) throws -> BatchStatistics {
        let lm = model.model, H = lm.config.hidden, V = lm.config.vocab
        var active = [Active]()
        var freeSlots = Array((0..<slots).reversed())
        var exhausted = false
        var stats = BatchStatistics()
        let start = Date()

        func finish(_ a: Active, _ reason: StopReason) throws {
            freeSlots.append(a.slot)
            try onFinish(BatchResult(id: a.request.id, tokens: a.tokens, promptTokens: a.request.prompt.count, stopReason: reason))
        }

        while true {
            // Fill free slots.
            supplying: while !exhausted && !freeSlots.isEmpty {
                let r: BatchRequest
                switch supply(active.isEmpty) {
                case .request(let request): r = request
                case .none: break supplying
                case .end: exhausted = true; break supplying
                }
                guard !r.prompt.isEmpty else { throw ModelError.emptyInput }
                guard r.prompt.count < contextSize else { throw ModelError.contextFull(needed: r.prompt.count + 1, capacity: contextSize) }
                let slot = freeSlots.removeLast()
                let reused = reusePrefix(of: r.prompt, into: slot)
                stats.reusedPromptTokens += reused
                active.append(Active(request: r, slot: slot, prefilled: reused,
                                     decoder: SequenceDecoder(parameters: r.parameters, controller: r.controller, tokenizer: model.tokenizer)))
                if r.parameters.maxTokens <= 0 { try finish(active.removeLast(), .length) }
            }
            // Drop cancelled sequences.
            var kept = [Active]()
            for a in active { if isCancelled(a.request.id) { try finish(a, .cancelled) } else { kept.append(a) } }
            active = kept
            if active.isEmpty {
                if exhausted { break } else { continue }
            }

            // One forward pass: each sequence sends its next prompt chunk or its sampled token.
            var steps = [SequenceStep]()
            for a in active {
                let ctx = contexts[a.slot]
                if let t = a.pending {
                    steps.append(SequenceStep(tokens: [t], context: ctx, logits: .last))
                } else {
                    let end = min(a.request.prompt.count, a.prefilled + Self.prefillChunk)
                    let chunk = Array(a.request.prompt[a.prefilled..<end])
                    steps.append(SequenceStep(tokens: chunk, context: ctx, logits: end == a.request.prompt.count ? .last : .none))
                    stats.promptTokens += chunk.count
                }
            }
            var pass = try lm.forwardPass(batch: steps, workspace: workspace)
            stats.forwardPasses += 1
            for (a, step) in zip(active, steps) { slotTokens[a.slot] += step.tokens }

            // Sequences whose prompt is done sample a token. With two or more, each thread of the
            // pool takes every n-th of them whole (its controller decides on that thread alone,
            // `decideOnThisThread`): one parallel region per step instead of a few per sequence,
            // and the same tokens (decisions are the same to the bit).
            var sampling = [Int]()
            for i in active.indices {
                if active[i].pending == nil {
                    active[i].prefilled += steps[i].tokens.count
                    if active[i].prefilled < active[i].request.prompt.count { continue }
                }
                sampling.append(i)
            }
            let roomLeft = sampling.map { i in contexts[active[i].slot].cache.length < contexts[active[i].slot].cache.capacity }
            let maxima = active.indices.map { pass.lastMaxLogit(of: $0) }  // the LM head's, per sequence
            var taken = [(token: GeneratedToken, finished: StopReason?)?](repeating: nil, count: sampling.count)
            let pool = lm.pool, parallel = sampling.count > 1 && pool.threadCount > 1
            // Sequences are changed in place (a `var` copy would share its token list with
            // `active`, and every append would copy the whole list: quadratic in its length);
            // each thread writes only its own sequences.
            active.withUnsafeMutableBufferPointer { activeBuffer in
                taken.withUnsafeMutableBufferPointer { takenBuffer in
                    pass.withWritableRows { rows in
                        let sequences = activeBuffer, out = takenBuffer
                        let take = { (j: Int) in
                            let i = sampling[j], (h, l) = rows(i)
                            out[j] = sequences[i].decoder.next(hidden: UnsafeBufferPointer(rebasing: h[(h.count - H)...]),
                                                               logits: UnsafeMutableBufferPointer(rebasing: l[0..<V]),
                                                               maxLogit: maxima[i],
                                                               roomLeft: roomLeft[j], onThisThread: parallel)
                        }
                        if parallel { pool.runDealing(sampling.count) { _, j in take(j) } } else { sampling.indices.forEach(take) }
                    }
                }
            }
            kept = []
            var sampled = 0
            for i in active.indices {
                guard sampled < sampling.count, sampling[sampled] == i, let (token, finished) = taken[sampled] else {
                    kept.append(active[i]); continue
                }
                sampled += 1
                active[i].tokens.append(token)
                stats.generatedTokens += 1
                onToken(active[i].request.id, token)
                if let finished { try finish(active[i], finished) } else { active[i].pending = token.id; kept.append(active[i]) }
            }
            active = kept
        }
        // Not in a defer: a defer runs after the returned copy is made.
        stats.seconds = Date().timeIntervalSince(start)
        return stats
    }
}
