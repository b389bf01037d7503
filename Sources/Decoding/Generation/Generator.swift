import Foundation
import Models
import Tokenizers

/// Runs generations on one model, keeping the KV cache of the last one so a
/// following prompt that shares a prefix (the next chat turn) reuses it.
/// One generation at a time; the work runs on its own thread, not on the
/// Swift concurrency pool.
public final class Generator: @unchecked Sendable {
    public let model: LoadedModel
    /// Predicts each token's temperature and top-p (combined with the user's by the AutoDeco rule).
    public var controller: any DecodingController
    let context: ModelContext
    private var cachedTokens: [Int32] = []
    private let lock = NSLock()

    /// Prompt tokens computed per forward pass (bounds scratch memory on long prompts).
    static let prefillChunk = 512

    public init(model: LoadedModel, contextSize: Int = 4096, controller: any DecodingController = StaticController()) {
        self.model = model
        self.controller = controller
        context = model.model.makeContext(capacity: contextSize)
    }

    public var contextSize: Int { context.cache.capacity }

    /// Streams the continuation of `prompt` (token ids): one `.token` event per sampled token
    /// (the last one carries any text still held back), then a `.summary`.
    public func generate(prompt: [Int32], parameters: GenerateParameters) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let cancelled = CancellationFlag()
            continuation.onTermination = { _ in cancelled.set() }
            let thread = Thread {
                do {
                    let summary = try self.run(prompt: prompt, parameters: parameters, cancelled: cancelled) {
                        continuation.yield(.token($0))
                    }
                    continuation.yield(.summary(summary))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
    }

    /// The synchronous generation loop behind `generate`.
    public func run(prompt: [Int32], parameters p: GenerateParameters, cancelled: CancellationFlag = CancellationFlag(),
                    onToken: (GeneratedToken) -> Void) throws -> GenerationSummary {
        lock.lock(); defer { lock.unlock() }
        guard !prompt.isEmpty else { throw ModelError.emptyInput }
        let lm = model.model, cache = context.cache
        guard prompt.count < cache.capacity else {
            throw ModelError.contextFull(needed: prompt.count + 1, capacity: cache.capacity)
        }
        let start = Date()
        // Reuse the cached prefix; always recompute at least the last prompt token for its logits.
        var common = 0
        while common < min(cachedTokens.count, prompt.count - 1) && cachedTokens[common] == prompt[common] { common += 1 }
        cache.truncate(to: common)
        cachedTokens.removeSubrange(common...)
        var logits = [Float]()
        var maxLogit: Float?  // the LM head's
        var hidden = [Float]()  // [H] of the last position
        let H = lm.config.hidden
        var i = common
        while i < prompt.count {
            let chunk = Array(prompt[i..<min(prompt.count, i + Self.prefillChunk)])
            let last = i + chunk.count == prompt.count
            let out = try lm.forward(chunk, context: context, logits: last ? .last : .none)
            if last { logits = out.logits; maxLogit = out.logitMaxima.last; hidden = Array(out.hidden[((chunk.count - 1) * H)...]) }
            cachedTokens += chunk
            i += chunk.count
        }
        let promptSeconds = Date().timeIntervalSince(start)

        let decodeStart = Date()
        var decoder = SequenceDecoder(parameters: p, controller: controller, tokenizer: model.tokenizer)
        var reason = StopReason.length
        var firstTokenTime = 0.0
        while decoder.generated < p.maxTokens {
            if cancelled.isSet { reason = .cancelled; break }
            let (token, finished) = hidden.withUnsafeBufferPointer { h in
                logits.withUnsafeMutableBufferPointer {
                    decoder.next(hidden: h, logits: $0, maxLogit: maxLogit, roomLeft: cache.length < cache.capacity)
                }
            }
            if decoder.generated == 1 { firstTokenTime = Date().timeIntervalSince(decodeStart) }
            onToken(token)
            if let finished { reason = finished; break }
            let out = try lm.forward([token.id], context: context, logits: .last)
            logits = out.logits; maxLogit = out.logitMaxima.last; hidden = out.hidden
            cachedTokens.append(token.id)
        }
        let generated = decoder.generated
        return GenerationSummary(promptTokens: prompt.count, promptTokensEvaluated: prompt.count - common,
                                 generatedTokens: generated, promptSeconds: promptSeconds + firstTokenTime,
                                 generationSeconds: Date().timeIntervalSince(decodeStart) - firstTokenTime,
                                 stopReason: reason, temperature: decoder.temperatureRange.range, topP: decoder.topPRange.range)
    }

    /// Forget the cached conversation.
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        cachedTokens = []; context.cache.truncate(to: 0)
    }
}

/// A flag set from any thread (a consumer's cancellation) and polled by the generation loop.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public func set() { lock.lock(); value = true; lock.unlock() }
    public var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
