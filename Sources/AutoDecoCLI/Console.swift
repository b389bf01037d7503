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
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        out(String(decoding: data, as: UTF8.self) + "\n")
    }

    static func summaryLine(_ s: GenerationSummary) -> String {
        String(format: "prompt: %d tokens, %.1f t/s | generation: %d tokens, %.1f t/s | stop: %@",
               s.promptTokens, s.promptTokensPerSecond, s.generatedTokens, s.generationTokensPerSecond, s.stopReason.rawValue)
    }

    static func summaryJSON(_ s: GenerationSummary) -> [String: Any] {
        ["summary": [
            "prompt_tokens": s.promptTokens, "prompt_tokens_evaluated": s.promptTokensEvaluated,
            "generated_tokens": s.generatedTokens,
            "prompt_seconds": s.promptSeconds, "generation_seconds": s.generationSeconds,
            "prompt_tokens_per_second": s.promptTokensPerSecond,
            "generation_tokens_per_second": s.generationTokensPerSecond,
            "stop_reason": s.stopReason.rawValue,
        ] as [String: Any]]
    }

    /// Streams a generation: text (or JSON lines) to stdout, the summary to stderr.
    static func stream(_ events: AsyncThrowingStream<GenerationEvent, Error>, json: Bool) async throws -> GenerationSummary? {
        var summary: GenerationSummary?
        for try await event in events {
            switch event {
            case .token(let t):
                if json { jsonLine(["id": Int(t.id), "text": t.text, "logprob": Double(t.logprob)]) } else { out(t.text) }
            case .summary(let s):
                summary = s
                if json { jsonLine(summaryJSON(s)) } else { out("\n") }
                info(summaryLine(s))
            }
        }
        return summary
    }
}
