import AutoDeco
import Foundation

/// One graded answer.
public struct EvaluationSample: Sendable, Equatable {
    public var problemIndex: Int
    public var problemID: String
    public var seed: UInt64
    public var sample: Int
    public var text: String
    public var tokenCount: Int
    public var finishReason: StopReason
    /// Per-token values, when the method varies them (heads, entropy rules).
    public var temperatures: [Float]?
    public var topPs: [Float]?
    public var answer: String?
    public var correct: Bool

    public init(problemIndex: Int, problemID: String, seed: UInt64, sample: Int, text: String, tokenCount: Int, finishReason: StopReason,
                temperatures: [Float]?, topPs: [Float]?, answer: String?, correct: Bool) {
        self.problemIndex = problemIndex; self.problemID = problemID; self.seed = seed; self.sample = sample; self.text = text
        self.tokenCount = tokenCount; self.finishReason = finishReason; self.temperatures = temperatures; self.topPs = topPs
        self.answer = answer; self.correct = correct
    }

    /// A line of samples.jsonl back (problemIndex is left 0: the caller maps ids to problems).
    public init?(jsonObject o: [String: Any]) {
        guard let id = o["id"] as? String, let seed = (o["seed"] as? NSNumber)?.uint64Value, let sample = o["sample"] as? Int,
              let text = o["text"] as? String, let n = o["n_tokens"] as? Int,
              let reason = (o["finish_reason"] as? String).flatMap(StopReason.init(rawValue:)), let correct = o["correct"] as? Bool
        else { return nil }
        self.init(problemIndex: 0, problemID: id, seed: seed, sample: sample, text: text, tokenCount: n, finishReason: reason,
                  temperatures: (o["temperatures"] as? [NSNumber])?.map(\.floatValue), topPs: (o["top_ps"] as? [NSNumber])?.map(\.floatValue),
                  answer: o["answer"] as? String, correct: correct)
    }

    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["id": problemID, "seed": NSNumber(value: seed), "sample": sample, "text": text, "n_tokens": tokenCount,
                                "finish_reason": finishReason.rawValue, "answer": answer ?? NSNull(), "correct": correct]
        // Four decimals: enough to read and to recompute means; keeps the file a reasonable size.
        func rounded(_ v: [Float]) -> [Double] { v.map { (Double($0) * 1e4).rounded() / 1e4 } }
        if let temperatures { o["temperatures"] = rounded(temperatures) }
        if let topPs { o["top_ps"] = rounded(topPs) }
        return o
    }
}
