import AutoDeco
import Foundation

/// Output helpers: text to stdout, diagnostics to stderr, JSON lines for scripts.
enum Console {
    static func info(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func out(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    /// One JSON object per line, keys sorted, no escaping of '/'.
    static func jsonLine(_ object: [String: Any]) {
        out(String(decoding: JSONLines.encode(object), as: UTF8.self))
    }

    static func summaryLine(_ s: GenerationSummary) -> String {
        var line = String(format: "prompt: %d tokens, %.1f t/s | generation: %d tokens, %.1f t/s | stop: %@",
                          s.promptTokens, s.promptTokensPerSecond, s.generatedTokens, s.generationTokensPerSecond, s.stopReason.rawValue)
        if let t = s.temperature, let p = s.topP {
            line += String(format: " | T mean %.3f (%.3f-%.3f), P mean %.3f (%.3f-%.3f)", t.mean, t.min, t.max, p.mean, p.min, p.max)
        }
        return line
    }

    static func rangeJSON(_ r: ValueRange?) -> Any {
        guard let r else { return NSNull() }
        return ["min": Double(r.min), "mean": Double(r.mean), "max": Double(r.max)]
    }

    static func summaryJSON(_ s: GenerationSummary) -> [String: Any] {
        ["summary": [
            "prompt_tokens": s.promptTokens, "prompt_tokens_evaluated": s.promptTokensEvaluated,
            "generated_tokens": s.generatedTokens,
            "prompt_seconds": s.promptSeconds, "generation_seconds": s.generationSeconds,
            "prompt_tokens_per_second": s.promptTokensPerSecond,
            "generation_tokens_per_second": s.generationTokensPerSecond,
            "stop_reason": s.stopReason.rawValue,
            "temperature": rangeJSON(s.temperature), "top_p": rangeJSON(s.topP),
        ] as [String: Any]]
    }

    /// Streams a generation: text (or JSON lines) to stdout, the summary to stderr. Returns the
    /// summary and the tokens (for traces).
    @discardableResult
    static func stream(_ events: AsyncThrowingStream<GenerationEvent, Error>, json: Bool) async throws -> (GenerationSummary?, [GeneratedToken]) {
        var summary: GenerationSummary?
        var tokens = [GeneratedToken]()
        for try await event in events {
            switch event {
            case .token(let t):
                tokens.append(t)
                if json {
                    jsonLine(["id": Int(t.id), "text": t.text, "logprob": t.logprob.map { Double($0) as Any } ?? NSNull(),
                              "temperature": Double(t.temperature), "top_p": Double(t.topP)])
                } else {
                    out(t.text)
                }
            case .summary(let s):
                summary = s
                if json { jsonLine(summaryJSON(s)) } else { out("\n") }
                info(summaryLine(s))
            }
        }
        return (summary, tokens)
    }

    /// Writes a `TraceHTML` page of `tokens` (atomically) and says where.
    static func writeTrace(_ path: String, title: String, prompt: String, tokens: [GeneratedToken], details: [String]) throws {
        let page = TraceHTML(title: title, prompt: prompt,
                             tokens: tokens.map { TraceHTML.Token(text: $0.text, temperature: $0.temperature, topP: $0.topP) },
                             details: details).render()
        try AtomicWrite.write(Data(page.utf8), to: path)
        info("trace written to \(path)")
    }
}
