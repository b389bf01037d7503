import Decoding
import Tokenizers

/// One choice as it accumulates: the emitted text and every sampled token.
struct ChoiceState {
    var text = ""
    var tokens: [GeneratedToken] = []
    var finishReason: StopReason?
}

/// Writes completions, chat completions and their streamed chunks in the OpenAI schema, plus
/// the AutoDeco extension: each choice (and chunk) carries the temperatures and top-p values
/// its tokens were sampled with (`temperatures`, `top_ps`, as the official vLLM fork names them),
/// which standard clients ignore.
struct CompletionFormatter {
    let endpoint: Endpoint
    let id: String
    let created: Int
    let model: String
    let tokenizer: any Tokenizer
    let logprobs: Bool

    private func header(object: String) -> [(String, JSONValue)] {
        [("id", .string(id)), ("object", .string(object)), ("created", .int(created)), ("model", .string(model))]
    }

    static func finishReason(_ r: StopReason?) -> JSONValue {
        switch r {
        case .stop?: return "stop"
        case .length?: return "length"
        case .cancelled?, nil: return nil
        }
    }

    static func usage(prompt: Int, completion: Int) -> JSONValue {
        .object([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(completion)), ("total_tokens", .int(prompt + completion))])
    }

    /// The complete (non-streamed) response.
    func response(_ choices: [ChoiceState], promptTokens: Int) -> JSONValue {
        let items: [JSONValue] = choices.enumerated().map { index, c in
            var fields: [(String, JSONValue)] = [("index", .int(index))]
            if endpoint == .chat {
                fields.append(("message", .object([("role", "assistant"), ("content", .string(c.text))])))
            } else {
                fields.append(("text", .string(c.text)))
            }
            fields.append(("logprobs", logprobsValue(c.tokens, textOffset: 0)))
            fields.append(("finish_reason", Self.finishReason(c.finishReason)))
            fields += extensionFields(c.tokens)
            return .object(fields)
        }
        let completion = choices.reduce(0) { $0 + $1.tokens.count }
        return .object(header(object: endpoint.object) + [("choices", .array(items)),
                                                          ("usage", Self.usage(prompt: promptTokens, completion: completion))])
    }

    /// A streamed chunk for one choice: a token (`finishReason` nil), or the choice's end (no
    /// token). `textOffset`: characters of this choice's text before the token (completions' logprobs).
    func chunk(choice: Int, token: GeneratedToken?, finishReason: StopReason?, textOffset: Int, includeUsage: Bool) -> JSONValue {
        var fields: [(String, JSONValue)] = [("index", .int(choice))]
        let tokens = token.map { [$0] } ?? []
        if endpoint == .chat {
            fields.append(("delta", token.map { .object([("content", .string($0.text))]) } ?? .object([])))
        } else {
            fields.append(("text", .string(token?.text ?? "")))
        }
        fields.append(("logprobs", token == nil ? nil : logprobsValue(tokens, textOffset: textOffset)))
        fields.append(("finish_reason", Self.finishReason(finishReason)))
        fields += extensionFields(tokens)
        var body = header(object: endpoint.chunkObject) + [("choices", .array([.object(fields)]))]
        if includeUsage { body.append(("usage", nil)) }
        return .object(body)
    }

    /// The first chunk of a streamed chat choice: the assistant role, no text yet.
    func roleChunk(choice: Int, includeUsage: Bool) -> JSONValue {
        let fields: [(String, JSONValue)] = [("index", .int(choice)), ("delta", .object([("role", "assistant"), ("content", "")])),
                                             ("logprobs", nil), ("finish_reason", nil)]
        var body = header(object: Endpoint.chat.chunkObject) + [("choices", .array([.object(fields)]))]
        if includeUsage { body.append(("usage", nil)) }
        return .object(body)
    }

    /// The last chunk when `stream_options.include_usage` is set: no choices, the usage.
    func usageChunk(promptTokens: Int, completionTokens: Int) -> JSONValue {
        .object(header(object: endpoint.chunkObject)
                + [("choices", []), ("usage", Self.usage(prompt: promptTokens, completion: completionTokens))])
    }

    private func extensionFields(_ tokens: [GeneratedToken]) -> [(String, JSONValue)] {
        [("temperatures", .array(tokens.map { .float($0.temperature) })), ("top_ps", .array(tokens.map { .float($0.topP) }))]
    }

    private func tokenText(_ id: Int32) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.bytes(of: id, renderSpecial: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }

    /// The `logprobs` of a choice: chat's `{"content": [...]}` or completions' parallel lists.
    private func logprobsValue(_ tokens: [GeneratedToken], textOffset: Int) -> JSONValue {
        guard logprobs else { return nil }
        if endpoint == .chat {
            func entry(_ id: Int32, _ logprob: Float) -> [(String, JSONValue)] {
                let t = tokenText(id)
                return [("token", .string(t.text)), ("logprob", .float(logprob)), ("bytes", .array(t.bytes.map { .int(Int($0)) }))]
            }
            let content: [JSONValue] = tokens.map { tok in
                .object(entry(tok.id, tok.logprob ?? .nan) + [("top_logprobs", .array(tok.topLogprobs.map { .object(entry($0.id, $0.logprob)) }))])
            }
            return .object([("content", .array(content))])
        }
        var offsets = [JSONValue](), offset = textOffset
        for tok in tokens { offsets.append(.int(offset)); offset += tok.text.count }
        return .object([
            ("tokens", .array(tokens.map { .string(tokenText($0.id).text) })),
            ("token_logprobs", .array(tokens.map { .float($0.logprob ?? .nan) })),
            ("top_logprobs", .array(tokens.map { tok in
                // Distinct token strings can collide (byte pieces decode to U+FFFD): keep the first, the most probable.
                var seen = Set<String>()
                return .object(tok.topLogprobs.compactMap { alt in
                    let s = tokenText(alt.id).text
                    return seen.insert(s).inserted ? (s, .float(alt.logprob)) : nil
                })
            })),
            ("text_offset", .array(offsets)),
        ])
    }
}
