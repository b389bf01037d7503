import Foundation
import Testing
import AutoDeco

/// AutoDeco decoding end to end on the default model: every generated token's temperature and top-p
/// must be what the heads predict from that position's hidden state and logits, recomputed here
/// from one batched forward pass over the prompt and the generated tokens.
@Suite(.serialized) struct AutoDecoGenerationTests {
    static let model = Result<LoadedModel, Error> { try LoadedModel.load(path: DefaultModel.ensure(log: { _ in }), threads: 2) }

    @Test func perTokenTemperatureAndTopPAreTheHeadsPredictions() throws {
        let lm = try Self.model.get()
        let H = lm.model.config.hidden, V = lm.model.config.vocab
        let heads = AutoDecoHeads(hiddenSize: H, seed: 11)
        let generator = Generator(model: lm, contextSize: 256, controller: AutoDecoController(heads: heads, pool: lm.model.pool))
        let prompt = lm.tokenizer.encode(try lm.renderChat([ChatMessage(role: "user", content: "Name a colour.")]), addSpecial: true, parseSpecial: true)
        var tokens = [GeneratedToken]()
        let params = GenerateParameters(maxTokens: 12, sampling: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 5),
                                        stopOnEndOfGeneration: false, logprobs: true)
        let summary = try generator.run(prompt: prompt, parameters: params) { tokens.append($0) }
        #expect(tokens.count == 12)

        let ctx = lm.model.makeContext(capacity: prompt.count + tokens.count)
        let all = try lm.model.forward(prompt + tokens.dropLast().map(\.id), context: ctx, logits: .all)
        var scratch = [Float](repeating: 0, count: V)
        for (j, tok) in tokens.enumerated() {
            let pos = prompt.count - 1 + j
            let (t, p) = all.hidden.withUnsafeBufferPointer { h in
                all.logits.withUnsafeBufferPointer { l in
                    let hp = h.baseAddress! + pos * H
                    let t = heads.temperature(hidden: hp)
                    let row = UnsafeBufferPointer(rebasing: l[(pos * V)..<((pos + 1) * V)])
                    let f = scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: row, temperature: t, scratch: $0.baseAddress!) }
                    return (t, heads.topP(hidden: hp, temperature: t, features: f))
                }
            }
            // Batched prefill and one-token decode differ by float rounding (1e-4 on hidden states).
            #expect(abs(tok.temperature - t) < 1e-3, "token \(j): T \(tok.temperature) vs \(t)")
            #expect(abs(tok.topP - p) < 1e-3, "token \(j): P \(tok.topP) vs \(p)")
            // Asked for, the log-probability is the raw distribution's (the heads' weights are at T).
            let row = all.logits[(pos * V)..<((pos + 1) * V)].map(Double.init)
            let peak = row.max()!, logZ = peak + log(row.reduce(0) { $0 + exp($1 - peak) })
            #expect(abs(Double(tok.logprob ?? .nan) - (row[Int(tok.id)] - logZ)) < 1e-3, "token \(j): logprob")
        }
        // Not asked for: no log-probabilities.
        var quiet = params
        quiet.logprobs = false; quiet.maxTokens = 3
        var unreported = [GeneratedToken]()
        _ = try generator.run(prompt: prompt, parameters: quiet) { unreported.append($0) }
        #expect(unreported.count == 3 && unreported.allSatisfy { $0.logprob == nil })
        let ts = tokens.map(\.temperature)
        #expect(summary.temperature?.min == ts.min() && summary.temperature?.max == ts.max())
        #expect(summary.topP != nil)
    }

    /// In a batch, each thread of the pool decides and samples whole sequences (the controller on
    /// that thread alone): every sequence still gets, to the bit, the tokens and the per-token T
    /// and P it gets generated alone, where the controller splits its work over the threads.
    @Test func batchedSequencesWithHeadsEqualSeparateGenerations() throws {
        let lm = try Self.model.get()
        let heads = AutoDecoHeads(hiddenSize: lm.model.config.hidden, seed: 17)
        let prompts = ["Name a colour.", "Count to five.", "Say hello.", "What is two plus two?", "Tell me a fact."]
        let requests = prompts.enumerated().map { i, text in
            BatchRequest(id: i, prompt: lm.tokenizer.encode(try! lm.renderChat([ChatMessage(role: "user", content: text)]), addSpecial: true, parseSpecial: true),
                         parameters: GenerateParameters(maxTokens: 6 + 3 * i, sampling: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: UInt64(40 + i)),
                                                        stopOnEndOfGeneration: false),
                         controller: AutoDecoController(heads: heads, pool: lm.model.pool))
        }
        var alone = [Int: [GeneratedToken]]()
        for r in requests {
            let generator = Generator(model: lm, contextSize: 128, controller: AutoDecoController(heads: heads, pool: lm.model.pool))
            var tokens = [GeneratedToken]()
            _ = try generator.run(prompt: r.prompt, parameters: r.parameters) { tokens.append($0) }
            alone[r.id] = tokens
        }
        var queue = requests[...]
        var results = [Int: BatchResult]()
        _ = try BatchGenerator(model: lm, slots: 4, contextSize: 128).run(next: { queue.popFirst() }) { results[$0.id] = $0 }
        for r in requests {
            let got = results[r.id]?.tokens ?? [], want = alone[r.id] ?? []
            #expect(got.map(\.id) == want.map(\.id), "request \(r.id): tokens")
            #expect(got.map(\.temperature) == want.map(\.temperature) && got.map(\.topP) == want.map(\.topP), "request \(r.id): T and P")
        }
    }

    /// Without log-probabilities nothing reads the logits after the controller, which then leaves
    /// the sampler's weights in their place; asked for log-probabilities, it keeps a buffer of its
    /// own. Both give the same tokens, T and P, to the bit.
    @Test func weightsInPlaceOfTheLogitsChangeNothing() throws {
        let lm = try Self.model.get()
        let heads = AutoDecoHeads(hiddenSize: lm.model.config.hidden, seed: 23)
        let prompt = lm.tokenizer.encode(try lm.renderChat([ChatMessage(role: "user", content: "Tell me about rivers.")]), addSpecial: true, parseSpecial: true)
        func run(logprobs: Bool) throws -> [GeneratedToken] {
            let generator = Generator(model: lm, contextSize: 128, controller: AutoDecoController(heads: heads, pool: lm.model.pool))
            var tokens = [GeneratedToken]()
            let params = GenerateParameters(maxTokens: 16, sampling: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9),
                                            stopOnEndOfGeneration: false, logprobs: logprobs)
            _ = try generator.run(prompt: prompt, parameters: params) { tokens.append($0) }
            return tokens
        }
        let inPlace = try run(logprobs: false), kept = try run(logprobs: true)
        #expect(inPlace.count == 16)
        #expect(inPlace.map(\.id) == kept.map(\.id))
        #expect(inPlace.map(\.temperature) == kept.map(\.temperature) && inPlace.map(\.topP) == kept.map(\.topP))
    }

    @Test func userTemperatureZeroIsGreedyEvenWithHeads() throws {
        let lm = try Self.model.get()
        let controller = AutoDecoController(heads: AutoDecoHeads(hiddenSize: lm.model.config.hidden, seed: 2))
        let withHeads = Generator(model: lm, contextSize: 128, controller: controller)
        let plain = Generator(model: lm, contextSize: 128)
        let prompt = lm.tokenizer.encode("The capital of France is", addSpecial: true, parseSpecial: true)
        let greedy = GenerateParameters(maxTokens: 8, sampling: SamplingParameters(temperature: 0, seed: 1), stopOnEndOfGeneration: false)
        var a = [Int32](), b = [Int32](), temps = [Float]()
        _ = try withHeads.run(prompt: prompt, parameters: greedy) { a.append($0.id); temps.append($0.temperature) }
        _ = try plain.run(prompt: prompt, parameters: greedy) { b.append($0.id) }
        #expect(a == b)
        #expect(temps.allSatisfy { $0 == 0 })
    }
}

struct SharedWeightsTests {
    @Test func samplerGivesTheSameDrawsWithTheControllersWeights() {
        var g = SeededGenerator(seed: 8)
        let l = (0..<5000).map { _ in Float(g.nextUnit() * 12 - 6) }
        let t: Float = 0.7
        var scratch = [Float](repeating: 0, count: l.count)
        let f = l.withUnsafeBufferPointer { lb in scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: lb, temperature: t, scratch: $0.baseAddress!) } }
        for (topP, k) in [(Float(0.9), 0), (1, 0), (0.8, 50)] {
            var a = Sampler(parameters: SamplingParameters(temperature: 1, topK: k, topP: 1, minP: 0, seed: 3))
            var b = a
            let (x, y) = l.withUnsafeBufferPointer { lb in
                scratch.withUnsafeBufferPointer { s in
                    let w = ScaledWeights(temperature: t, maxLogit: f.maxLogit, sum: f.partition, weights: s.baseAddress!, count: l.count)
                    return ((0..<500).map { _ in a.sample(logits: lb, temperature: t, topP: topP) },
                            (0..<500).map { _ in b.sample(logits: lb, temperature: t, topP: topP, weights: w) })
                }
            }
            #expect(x.map(\.id) == y.map(\.id), "topP \(topP), k \(k)")
            #expect(zip(x, y).allSatisfy { abs($0.logprob! - $1.logprob!) < 1e-4 })
        }
    }

    /// `decide(consuming:)` makes the same decision as `decide` and leaves the same weights, in
    /// the logits' place; the scratch is untouched by it.
    @Test func consumingDecisionLeavesTheWeightsInPlace() {
        var g = SeededGenerator(seed: 12)
        let H = 64
        let controller = AutoDecoController(heads: AutoDecoHeads(hiddenSize: H, seed: 3), pool: ThreadPool.shared(threads: 2))
        let h = (0..<H).map { _ in Float(g.nextUnit() * 2 - 1) }
        let l = (0..<3000).map { _ in Float(g.nextUnit() * 16 - 8) }
        let kept = h.withUnsafeBufferPointer { hb in l.withUnsafeBufferPointer { controller.decide(hidden: hb, logits: $0) } }
        let keptWeights = Array(UnsafeBufferPointer(start: kept.weights!.weights, count: l.count))
        for onThisThread in [false, true] {
            var buffer = l
            let d = h.withUnsafeBufferPointer { hb in buffer.withUnsafeMutableBufferPointer { controller.decide(hidden: hb, consuming: $0, onThisThread: onThisThread) } }
            #expect(d.temperature == kept.temperature && d.topP == kept.topP)
            #expect(d.weights?.sum == kept.weights?.sum && d.weights?.maxLogit == kept.weights?.maxLogit)
            #expect(buffer == keptWeights, "the logits now hold the weights")
            buffer.withUnsafeBufferPointer { #expect(d.weights?.weights == $0.baseAddress) }
        }
        // With the maximum known (the LM head's), the top five come with the exponentials: the
        // same decision and weights to the bit. Another value near it shifts the weights, not
        // the decision (beyond rounding).
        let m = l.max()!
        for (hint, exact) in [(m, true), (m + 0.75, false), (m - 0.5, false)] {
            var buffer = l
            let d = h.withUnsafeBufferPointer { hb in
                buffer.withUnsafeMutableBufferPointer { controller.decide(hidden: hb, consuming: $0, maxLogit: hint, onThisThread: false) }
            }
            #expect(d.temperature == kept.temperature)
            if exact {
                #expect(d.topP == kept.topP && d.weights?.sum == kept.weights?.sum && buffer == keptWeights)
            } else {
                #expect(abs(d.topP - kept.topP) < 1e-5 && d.weights?.maxLogit == hint, "hint \(hint): P \(d.topP) vs \(kept.topP)")
            }
        }
        // Three threads on two cores: the first two regions meet at a barrier that yields the core,
        // and the decision is still the same as the regions one after another.
        let three = AutoDecoController(heads: AutoDecoHeads(hiddenSize: H, seed: 3), pool: ThreadPool.shared(threads: 3))
        let alone = h.withUnsafeBufferPointer { hb in l.withUnsafeBufferPointer { three.decide(hidden: hb, logits: $0) } }
        for _ in 0..<20 {
            var buffer = l
            let d = h.withUnsafeBufferPointer { hb in
                buffer.withUnsafeMutableBufferPointer { three.decide(hidden: hb, consuming: $0, maxLogit: m, onThisThread: false) }
            }
            #expect(d.temperature == alone.temperature && d.topP == alone.topP)
        }
    }

    @Test func featuresSplitOverThreadsEqualOneThread() {
        var g = SeededGenerator(seed: 4)
        let l = (0..<49_152).map { _ in Float(g.nextUnit() * 20 - 10) }
        var s1 = [Float](repeating: 0, count: l.count), s2 = s1
        let one = l.withUnsafeBufferPointer { lb in s1.withUnsafeMutableBufferPointer { LogitFeatures(logits: lb, temperature: 0.9, scratch: $0.baseAddress!) } }
        let two = l.withUnsafeBufferPointer { lb in
            s2.withUnsafeMutableBufferPointer { LogitFeatures(logits: lb, temperature: 0.9, scratch: $0.baseAddress!, pool: ThreadPool.shared(threads: 2)) }
        }
        for (a, b) in [(one.maxProb, two.maxProb), (one.entropy, two.entropy), (one.probVariance, two.probVariance), (one.top5Sum, two.top5Sum)] {
            #expect(abs(a - b) <= 1e-5 * max(abs(a), 1e-6), "\(a) vs \(b)")
        }
        #expect(s1 == s2)
    }
}

struct TraceHTMLTests {
    @Test func pageIsSelfContainedAndShowsEveryToken() {
        let tokens = [TraceHTML.Token(text: "Hello", temperature: 0.2, topP: 0.9), TraceHTML.Token(text: " <world> & \"you\"", temperature: 1.8, topP: 0.4),
                      TraceHTML.Token(text: "\n", temperature: 1.0, topP: 1.0)]
        let html = TraceHTML(title: "t", prompt: "p <b>", tokens: tokens, details: ["model: m"]).render()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        // Nothing is fetched: no scripts, links, external images, stylesheets or fonts.
        for external in ["<script", "src=", "href=", "url(", "@import", "<link"] { #expect(!html.contains(external), "\(external)") }
        #expect(html.components(separatedBy: "<span style=\"background:").count - 1 == 3)
        #expect(html.contains("&lt;world&gt; &amp; &quot;you&quot;") && html.contains("p &lt;b&gt;"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 2)
        #expect(html.contains("T=1.800, P=0.400"))
    }
}
