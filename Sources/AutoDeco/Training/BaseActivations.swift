import Foundation
import Kernels
import ModelFiles

/// A training example as tokens: the prompt, then the completion with EOS appended (spec §4).
/// Positions promptCount-1 ..< tokens.count-1 are supervised: each predicts the next token.
public struct TokenizedExample: Sendable, Equatable {
    public var tokens: [Int32]
    public var promptCount: Int
    public var labelCount: Int { tokens.count - promptCount }
    public init(tokens: [Int32], promptCount: Int) {
        precondition(promptCount >= 1 && promptCount < tokens.count, "a prompt token and a completion token at least")
        self.tokens = tokens; self.promptCount = promptCount
    }
}

extension TrainingExample {
    /// Prompt tokens (with the tokenizer's BOS rule, special tokens parsed: the prompt is
    /// chat-formatted), completion tokens as plain text, EOS appended unless already last;
    /// cut to `maxLength` tokens. Nil when no completion token fits.
    public func tokenized(with tokenizer: any Tokenizer, maxLength: Int) -> TokenizedExample? {
        let prompt = tokenizer.encode(self.prompt, addSpecial: true, parseSpecial: true)
        var completion = tokenizer.encode(self.completion, addSpecial: false, parseSpecial: false)
        if let eos = tokenizer.eosTokenID, completion.last != eos { completion.append(eos) }
        let tokens = Array((prompt + completion).prefix(maxLength))
        guard tokens.count > prompt.count, !prompt.isEmpty else { return nil }
        return TokenizedExample(tokens: tokens, promptCount: prompt.count)
    }
}

/// What the frozen base computes for every supervised position of a data set, computed once and
/// kept on disk: the final hidden state (the heads' input; the LM head turns it back into the
/// logits), the gold token, w = softmax(z)[y] and whether argmax z = y.
public struct BaseActivations: Sendable {
    public let hiddenSize: Int
    public var hidden: [Float]          // [N, H]
    public var labels: [Int32]          // [N]
    public var baseProbability: [Float] // [N]
    public var easy: [Bool]             // [N]
    /// Example e owns positions exampleOffsets[e] ..< exampleOffsets[e + 1].
    public var exampleOffsets: [Int]    // [E + 1]

    public var positionCount: Int { labels.count }
    public var exampleCount: Int { exampleOffsets.count - 1 }
    public var byteCount: Int { hidden.count * 4 + labels.count * 9 + exampleOffsets.count * 8 }

    /// Runs the base over every example (`progress(examplesDone)` after each).
    public static func compute(model: LlamaModel, examples: [TokenizedExample],
                               progress: (Int) -> Void = { _ in }) throws -> BaseActivations {
        let H = model.config.hidden, V = model.config.vocab
        var out = BaseActivations(hiddenSize: H, hidden: [], labels: [], baseProbability: [], easy: [], exampleOffsets: [0])
        let longest = examples.map(\.tokens.count).max() ?? 1
        let context = model.makeContext(capacity: longest)
        let workspace = model.makeWorkspace()
        for (e, ex) in examples.enumerated() {
            context.cache.truncate(to: 0)
            let states = try model.forward(ex.tokens, context: context, logits: .none).hidden  // [T, H]
            let first = ex.promptCount - 1, last = ex.tokens.count - 1   // supervised rows first..<last
            let rows = Array(states[(first * H)..<(last * H)])
            let logits = model.logits(hidden: rows, workspace: workspace)
            logits.withUnsafeBufferPointer { l in
                for r in 0..<(last - first) {
                    let z = UnsafeBufferPointer(rebasing: l[(r * V)..<((r + 1) * V)])
                    let y = Int(ex.tokens[first + r + 1])
                    out.labels.append(Int32(y))
                    out.baseProbability.append(Float(AutoDecoLoss.baseProbability(logits: z, label: y)))
                    out.easy.append(VectorOps.argmax(z.baseAddress!, n: V).index == y)
                }
            }
            out.hidden += rows
            out.exampleOffsets.append(out.labels.count)
            progress(e + 1)
        }
        return out
    }

    // MARK: - Disk cache

    static let magic = "AUTODECO-ACTIVATIONS-2\n"

    /// The cache file name for a model file, a data file and the tokenisation settings: a hash
    /// of the model's size and first and last 4 MB (its header and part of its weights), the
    /// whole data file and the settings.
    public static func cacheKey(modelPath: String, dataPath: String, maxLength: Int) throws -> String {
        var h = SHA256()
        let model = try MappedFile(path: modelPath)
        let size = model.bytes.count
        var header = "model-bytes=\(size) max-length=\(maxLength) format=2"
        header.withUTF8 { h.update(UnsafeRawBufferPointer($0)) }
        let chunk = min(size, 4 << 20)
        h.update(UnsafeRawBufferPointer(rebasing: model.bytes[0..<chunk]))
        h.update(UnsafeRawBufferPointer(rebasing: model.bytes[(size - chunk)..<size]))
        guard let data = FileManager.default.contents(atPath: dataPath) else {
            throw DataFileError.unreadable(path: dataPath, reason: "no such file")
        }
        data.withUnsafeBytes { h.update($0) }
        return h.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    public func write(to path: String) throws {
        var w = BinaryArrayWriter(magic: Self.magic)
        w.append([Int64(hiddenSize)])
        w.append(hidden); w.append(labels); w.append(baseProbability); w.append(easy.map { UInt8($0 ? 1 : 0) })
        w.append(exampleOffsets.map(Int64.init))
        try AtomicWrite.write(w.data, to: path)
    }

    public static func read(_ path: String) throws -> BaseActivations {
        guard let d = FileManager.default.contents(atPath: path) else { throw DataFileError.unreadable(path: path, reason: "no such file") }
        var r = try BinaryArrayReader(d, magic: magic, path: path, kind: "an activation cache")
        let H = Int(try r.next(Int64.self, count: 1)[0])
        let hidden = try r.next(Float.self)
        guard H > 0, hidden.count % H == 0 else { throw r.error("bad hidden size") }
        let N = hidden.count / H
        let a = BaseActivations(hiddenSize: H, hidden: hidden, labels: try r.next(Int32.self, count: N),
                                baseProbability: try r.next(Float.self, count: N), easy: try r.next(UInt8.self, count: N).map { $0 != 0 },
                                exampleOffsets: try r.next(Int64.self).map(Int.init))
        try r.finish()
        guard a.exampleOffsets.first == 0, a.exampleOffsets.last == N else { throw r.error("inconsistent example offsets") }
        return a
    }
}
