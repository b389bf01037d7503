import Foundation
import Testing
import Models
import Decoding

/// Continuous batching gives every sequence the tokens it gets when generated alone.
@Suite(.serialized) struct BatchGenerationTests {
    let lm: LoadedModel
    init() throws { lm = try SharedModel.get() }

    @Test func batchedSequencesEqualSeparateGenerations() throws {
        let prompts = ["The capital of France is", "def add(a, b):", "Once upon a time", "1, 2, 3, 4,",
                       "Water boils at", "My favourite colour is", "import numpy as np\n",
                       "Once upon a time", "Once upon a time there"]  // shared prefixes: copied, not recomputed
        var requests = [BatchRequest]()
        for (i, text) in prompts.enumerated() {
            let sampling = i % 3 == 0 ? SamplingParameters(temperature: 0)
                : SamplingParameters(temperature: 0.9, topK: 0, topP: 0.95, minP: 0, seed: UInt64(100 + i))
            let p = GenerateParameters(maxTokens: 8 + 5 * i, sampling: sampling, stopStrings: i == 4 ? ["."] : [])
            requests.append(BatchRequest(id: i, prompt: lm.tokenizer.encode(text, addSpecial: true, parseSpecial: true), parameters: p))
        }
        var alone = [Int: [Int32]]()
        let single = Generator(model: lm, contextSize: 128)
        for r in requests {
            single.reset()
            var ids = [Int32]()
            _ = try single.run(prompt: r.prompt, parameters: r.parameters) { ids.append($0.id) }
            alone[r.id] = ids
        }
        let batch = BatchGenerator(model: lm, slots: 3, contextSize: 128)
        var queue = requests[...]
        var results = [Int: BatchResult]()
        var streamed = [Int: Int]()
        let stats = try batch.run(next: { queue.popFirst() }, onToken: { id, _ in streamed[id, default: 0] += 1 }) { results[$0.id] = $0 }
        #expect(results.count == requests.count)
        for r in requests {
            #expect(results[r.id]?.tokens.map(\.id) == alone[r.id], "request \(r.id)")
            #expect(streamed[r.id] == alone[r.id]?.count)
        }
        #expect(stats.generatedTokens == alone.values.map(\.count).reduce(0, +))
        #expect(stats.reusedPromptTokens > 0)
        // Fewer passes than tokens: sequences really shared forward passes.
        #expect(stats.forwardPasses < stats.generatedTokens / 2)
    }

    @Test func cancelledSequenceLeavesItsSlot() throws {
        let batch = BatchGenerator(model: lm, slots: 2, contextSize: 64)
        let prompt = lm.tokenizer.encode("Count: 1, 2, 3,", addSpecial: true, parseSpecial: true)
        var queue = (0..<3).map { BatchRequest(id: $0, prompt: prompt, parameters: GenerateParameters(maxTokens: 20, sampling: .greedy)) }[...]
        var counts = [Int: Int](), reasons = [Int: StopReason]()
        try batch.run(next: { queue.popFirst() }, onToken: { id, _ in counts[id, default: 0] += 1 },
                      isCancelled: { id in id == 0 && counts[0, default: 0] >= 3 }) { reasons[$0.id] = $0.stopReason }
        #expect(reasons[0] == .cancelled)
        #expect(counts[0] == 3)
        #expect(reasons[1] == .length && reasons[2] == .length)
        #expect(counts[1] == 20 && counts[2] == 20)
    }

    /// The open-ended supplier of a server: a request that arrives while others decode (the
    /// supplier answered `.none` before) joins the running batch and gets its lone tokens.
    @Test func lateRequestJoinsARunningBatch() throws {
        let prompt = { (text: String) in self.lm.tokenizer.encode(text, addSpecial: true, parseSpecial: true) }
        let early = BatchRequest(id: 0, prompt: prompt("1, 2, 3,"), parameters: GenerateParameters(maxTokens: 30, sampling: .greedy, stopOnEndOfGeneration: false))
        let late = BatchRequest(id: 1, prompt: prompt("Once upon a time"),
                                parameters: GenerateParameters(maxTokens: 10, sampling: SamplingParameters(temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 5)))
        let single = Generator(model: lm, contextSize: 128)
        var alone = [Int32]()
        _ = try single.run(prompt: late.prompt, parameters: late.parameters) { alone.append($0.id) }

        let batch = BatchGenerator(model: lm, slots: 2, contextSize: 128)
        var asked = 0, earlyTokens = 0, joinedAt: Int?
        var tokens = [Int: [Int32]]()
        var idleAnswers = [Bool]()
        try batch.run(supply: { idle in
            asked += 1
            idleAnswers.append(idle)
            if asked == 1 { return .request(early) }
            if joinedAt == nil && earlyTokens >= 5 { joinedAt = earlyTokens; return .request(late) }
            return joinedAt == nil ? .none : (idle ? .end : .none)
        }, onToken: { id, t in
            tokens[id, default: []].append(t.id)
            if id == 0 { earlyTokens += 1 }
        }) { _ in }
        #expect(joinedAt == 5)
        #expect(tokens[1] == alone)
        #expect(tokens[0]?.count == 30)
        // Asked with idle = false while the early sequence ran, and idle = true only at the end.
        #expect(idleAnswers.first == true && idleAnswers.last == true)
        #expect(idleAnswers.dropFirst().dropLast().allSatisfy { !$0 })
    }
}
