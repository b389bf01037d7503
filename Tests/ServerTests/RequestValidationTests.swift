import AutoDeco
import Foundation
import Testing
import AutoDecoServer

/// Request bodies into jobs: OpenAI's defaults, and a typed 4xx naming the field for everything wrong.
@Suite struct RequestValidationTests {
    static let model = Result<LoadedModel, Error> { try LoadedModel.load(path: DefaultModel.ensure(log: { _ in }), threads: 1) }

    func job(_ endpoint: Endpoint, _ json: String, context: Int = 256) throws -> CompletionJob {
        try CompletionJob(endpoint: endpoint, body: CompletionRequestBody.decode(Data(json.utf8)), model: Self.model.get(),
                          contextSize: context, limits: ServerLimits())
    }

    func error(_ endpoint: Endpoint, _ json: String, context: Int = 256) -> APIError? {
        do { _ = try job(endpoint, json, context: context); return nil } catch { return error as? APIError }
    }

    @Test func openAIDefaults() throws {
        let chat = try job(.chat, #"{"model": "anything", "messages": [{"role": "user", "content": "Hi"}]}"#)
        #expect(chat.prompts.count == 1 && chat.n == 1 && !chat.stream && !chat.logprobs)
        #expect(chat.parameters.maxTokens == 256 - chat.prompts[0].count, "chat runs to the end of the context")
        let s = chat.parameters.sampling
        #expect(s.temperature == 1 && s.topP == 1 && s.topK == 0 && s.minP == 0 && s.seed == nil)
        #expect(chat.parameters.stopOnEndOfGeneration)
        let text = try job(.completion, #"{"prompt": ["a", "b c"], "n": 2, "max_tokens": 5, "stop": "x", "seed": 9}"#)
        #expect(text.prompts.count == 2 && text.choiceCount == 4 && text.parameters.maxTokens == 5)
        #expect(text.parameters.stopStrings == ["x"])
        #expect((0..<4).map { text.parameters(choice: $0).sampling.seed } == [9, 10, 11, 12])
        #expect(try job(.completion, #"{"prompt": "a"}"#).parameters.maxTokens == 16, "legacy completions default to 16 tokens")
        let parts = try job(.chat, #"{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}"#)
        #expect(parts.prompts == chat.prompts, "content parts are joined like a string")
        let lp = try job(.chat, #"{"messages": [{"role": "user", "content": "Hi"}], "logprobs": true, "top_logprobs": 4}"#)
        #expect(lp.logprobs && lp.parameters.topLogprobs == 4)
        let legacy = try job(.completion, #"{"prompt": [1, 2, 3], "logprobs": 2, "max_completion_tokens": 7, "max_tokens": 3}"#)
        #expect(legacy.prompts == [[1, 2, 3]] && legacy.parameters.topLogprobs == 2)
        #expect(legacy.parameters.maxTokens == 7, "max_completion_tokens wins over max_tokens")
    }

    @Test func badRequestsNameTheirField() {
        let chat = #""messages": [{"role": "user", "content": "Hi"}]"#
        let cases: [(Endpoint, String, String?)] = [
            (.chat, "{", nil),
            (.chat, "[]", nil),
            (.chat, "null", nil),
            (.completion, #""a prompt""#, nil),
            (.completion, "", nil),
            (.chat, #"{"model": "m"}"#, "messages"),
            (.chat, #"{"messages": []}"#, "messages"),
            (.chat, #"{"messages": "Hi"}"#, "messages"),
            (.chat, #"{"messages": [{"content": "Hi"}]}"#, "messages[0].role"),
            (.chat, #"{"messages": [{"role": "user", "content": 3}]}"#, "messages[0].content"),
            (.chat, "{\(chat), \"max_tokens\": 0}", "max_tokens"),
            (.chat, "{\(chat), \"max_tokens\": 1.5}", "max_tokens"),
            (.chat, "{\(chat), \"max_tokens\": \"7\"}", "max_tokens"),
            (.chat, "{\(chat), \"max_completion_tokens\": 1000}", "max_completion_tokens"),
            (.chat, "{\(chat), \"n\": 17}", "n"),
            (.chat, "{\(chat), \"n\": 9223372036854775807}", "n"),
            (.chat, "{\(chat), \"max_tokens\": 9223372036854775807}", "max_tokens"),
            (.chat, "{\(chat), \"max_tokens\": 1e300}", "max_tokens"),
            (.chat, "{\(chat), \"seed\": 1.5}", "seed"),
            (.chat, "{\(chat), \"n\": 0}", "n"),
            (.chat, "{\(chat), \"temperature\": -0.1}", "temperature"),
            (.chat, "{\(chat), \"top_p\": 2}", "top_p"),
            (.chat, "{\(chat), \"min_p\": 1.5}", "min_p"),
            (.chat, "{\(chat), \"top_k\": -2}", "top_k"),
            (.chat, "{\(chat), \"presence_penalty\": 3}", "presence_penalty"),
            (.chat, "{\(chat), \"frequency_penalty\": -3}", "frequency_penalty"),
            (.chat, "{\(chat), \"stop\": [1]}", "stop"),
            (.chat, "{\(chat), \"stream\": \"yes\"}", "stream"),
            (.chat, "{\(chat), \"logprobs\": 3}", "logprobs"),
            (.chat, "{\(chat), \"top_logprobs\": 3}", "top_logprobs"),
            (.chat, "{\(chat), \"logprobs\": true, \"top_logprobs\": 21}", "top_logprobs"),
            (.completion, #"{"prompt": 5}"#, "prompt"),
            (.completion, #"{"prompt": []}"#, "prompt"),
            (.completion, #"{"prompt": ""}"#, "prompt"),
            (.completion, #"{"prompt": [[1], [70000]]}"#, "prompt"),
            (.completion, #"{"prompt": ["a", "b"], "n": 9}"#, "n"),
            (.completion, #"{"prompt": "a", "logprobs": 21}"#, "logprobs"),
        ]
        for (endpoint, body, param) in cases {
            let e = error(endpoint, body)
            #expect(e?.status == .badRequest, "\(body): \(String(describing: e))")
            #expect(e?.param == param, "\(body): param \(String(describing: e?.param)), message \(e?.message ?? "")")
            #expect(e?.message.isEmpty == false)
        }
    }

    @Test func contextLimits() throws {
        let long = String(repeating: "word ", count: 300)
        let e = error(.completion, "{\"prompt\": \"\(long)\"}")
        #expect(e?.code == "context_length_exceeded" && e?.param == "prompt")
        #expect(e?.message.contains("maximum context length is 256 tokens") == true)
        let fits = try job(.completion, #"{"prompt": "a b c", "max_tokens": 250}"#)
        #expect(fits.parameters.maxTokens == 250)
        #expect(error(.completion, #"{"prompt": "a b c", "max_tokens": 255}"#)?.code == "context_length_exceeded")
    }

    @Test func errorBodiesAreOpenAIShaped() throws {
        let e = try #require(error(.chat, #"{"messages": [{"role": "user", "content": "Hi"}], "n": 1.5}"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(e.json.utf8)) as? [String: Any])
        let body = try #require(object["error"] as? [String: Any])
        #expect(body["message"] as? String == "Invalid type for 'n': expected an integer.")
        #expect(body["type"] as? String == "invalid_request_error" && body["param"] as? String == "n")
        #expect(body["code"] as? String == "invalid_type")
    }

    @Test func jsonValueWritesValidCompactJSON() throws {
        let v: JSONValue = .object([("b", "q\"uote\\ \n\t\u{01} é ✓"), ("a", [.float(0.3), .float(.nan), .int(-2), true, nil]),
                                    ("e", .float(1e-7))])
        let text = v.text
        #expect(text.hasPrefix(#"{"b":"#), "keys keep their order")
        #expect(text.contains("0.3,null,-2,true,null"), "\(text)")
        #expect(!text.contains("\n"))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["b"] as? String == "q\"uote\\ \n\t\u{01} é ✓")
        #expect((parsed["e"] as? Double).map { abs($0 - 1e-7) < 1e-12 } == true)
    }
}
