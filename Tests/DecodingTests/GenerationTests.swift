import Foundation
import Testing
import ModelFiles
import Models
import Decoding
import Tokenizers

enum SharedModel {
    private static let loaded = Result<LoadedModel, Error> {
        try LoadedModel.load(path: DefaultModel.ensure(log: { _ in }), threads: 2)
    }
    static func get() throws -> LoadedModel { try loaded.get() }
}

@Suite(.serialized) struct GenerationTests {
    let lm: LoadedModel
    init() throws { lm = try SharedModel.get() }

    func collect(_ g: Generator, _ prompt: String, _ p: GenerateParameters) throws -> (ids: [Int32], text: String, summary: GenerationSummary) {
        var ids = [Int32](), text = ""
        let ptoks = lm.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        let s = try g.run(prompt: ptoks, parameters: p) { ids.append($0.id); text += $0.text }
        return (ids, text, s)
    }

    @Test func greedyFollowsArgmaxAndStopsAtMaxTokens() throws {
        let g = Generator(model: lm, contextSize: 256)
        let p = GenerateParameters(maxTokens: 12, sampling: SamplingParameters(temperature: 0))
        let r = try collect(g, "def fibonacci(n):\n", p)
        #expect(r.ids.count == 12)
        #expect(r.summary.stopReason == .length)
        #expect(r.summary.generatedTokens == 12)
        // Same as feeding the tokens ourselves and taking the argmax.
        let m = lm.model, ctx = m.makeContext(capacity: 64)
        var logits = try m.forward(lm.tokenizer.encode("def fibonacci(n):\n", addSpecial: true, parseSpecial: true), context: ctx, logits: .last).logits
        for id in r.ids {
            let argmax = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
            #expect(argmax == id)
            logits = try m.forward([id], context: ctx, logits: .last).logits
        }
    }

    @Test func seededSamplingIsReproducibleAndSeedsDiffer() throws {
        let g = Generator(model: lm, contextSize: 256)
        func sample(_ seed: UInt64) throws -> [Int32] {
            try collect(g, "Once upon a time", GenerateParameters(maxTokens: 24, sampling: SamplingParameters(temperature: 1.0, topP: 1, seed: seed), stopOnEndOfGeneration: false)).ids
        }
        let a = try sample(7), b = try sample(7), c = try sample(8)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func stopsOnEndOfGenerationToken() throws {
        let g = Generator(model: lm, contextSize: 512)
        let prompt = try lm.renderChat([ChatMessage(role: "user", content: "Say hello.")])
        let r = try collect(g, prompt, GenerateParameters(maxTokens: 200, sampling: SamplingParameters(temperature: 0)))
        #expect(r.summary.stopReason == .stop)
        #expect(lm.tokenizer.endOfGenerationTokenIDs.contains(r.ids.last ?? -1))
        #expect(!r.text.contains("<|im_end|>"))
    }

    @Test func stopStringEndsGenerationAndIsNotEmitted() throws {
        let g = Generator(model: lm, contextSize: 256)
        let greedy = GenerateParameters(maxTokens: 40, sampling: SamplingParameters(temperature: 0), stopOnEndOfGeneration: false)
        let full = try collect(g, "def fibonacci(n):\n", greedy).text
        // Stop at the second word of the greedy continuation.
        let words = full.split(separator: " ").filter { $0.count >= 3 }
        let stop = String(try #require(words.dropFirst().first))
        var p = greedy; p.stopStrings = [stop]
        let r = try collect(g, "def fibonacci(n):\n", p)
        #expect(r.summary.stopReason == .stop)
        #expect(!r.text.contains(stop))
        #expect(full.hasPrefix(r.text))
        #expect(full[full.index(full.startIndex, offsetBy: r.text.count)...].hasPrefix(stop))
    }

    @Test func chatSessionReusesTheCacheBetweenTurns() async throws {
        let session = ChatSession(model: lm, system: "Be brief.", contextSize: 1024)
        let p = GenerateParameters(maxTokens: 16, sampling: SamplingParameters(temperature: 0))
        var summaries = [GenerationSummary]()
        for msg in ["What is 2+3?", "And 4+4?"] {
            for try await e in session.send(msg, parameters: p) { if case .summary(let s) = e { summaries.append(s) } }
        }
        #expect(summaries.count == 2)
        #expect(session.messages.count == 5)
        #expect(summaries[1].promptTokensEvaluated < summaries[1].promptTokens / 2)
    }

    @Test func cancellingTheStreamStopsGeneration() async throws {
        let g = Generator(model: lm, contextSize: 256)
        let ids = lm.tokenizer.encode("Once upon a time", addSpecial: true, parseSpecial: true)
        var n = 0
        for try await e in g.generate(prompt: ids, parameters: GenerateParameters(maxTokens: 200, sampling: SamplingParameters(temperature: 0), stopOnEndOfGeneration: false)) {
            if case .token = e { n += 1; if n == 3 { break } }
        }
        // The generator is free again and works.
        let r = try collect(g, "Hello", GenerateParameters(maxTokens: 2, sampling: SamplingParameters(temperature: 0)))
        #expect(r.ids.count == 2)
    }
}

struct StopStringMatcherTests {
    @Test func holdsBackPossiblePrefixes() {
        var m = StopStringMatcher(["</end>"])
        #expect(m.append("abc</") == ("abc", false))
        #expect(m.append("en") == ("", false))
        #expect(m.append("x") == ("</enx", false))
        #expect(m.append("1</end>2") == ("1", true))
    }

    @Test func flushReturnsHeldText() {
        var m = StopStringMatcher(["STOP"])
        #expect(m.append("aST") == ("a", false))
        #expect(m.flush() == "ST")
        var none = StopStringMatcher([])
        #expect(none.append("x") == ("x", false))
    }
}
