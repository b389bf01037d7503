/// Why a tokenizer could not be built from a model file.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case unsupportedModel(path: String, model: String)
    case emptyVocabulary(path: String)
    case countMismatch(path: String, tokens: Int, types: Int)
    case badMerge(path: String, index: Int, merge: String)
    case badTokenID(path: String, key: String, id: Int, vocab: Int)
    case unsupportedPreTokenizer(path: String, name: String)

    public var description: String {
        switch self {
        case .unsupportedModel(let p, let m):
            return "\(p): tokenizer.ggml.model is '\(m)'; only byte-level BPE ('gpt2') is supported"
        case .emptyVocabulary(let p): return "\(p): tokenizer.ggml.tokens is empty"
        case .countMismatch(let p, let t, let ty):
            return "\(p): tokenizer.ggml.token_type has \(ty) entries for \(t) tokens"
        case .badMerge(let p, let i, let m):
            return "\(p): tokenizer.ggml.merges[\(i)] = '\(m)' does not join two tokens of the vocabulary into a third"
        case .badTokenID(let p, let k, let id, let v): return "\(p): \(k) = \(id) is outside the vocabulary (0..<\(v))"
        case .unsupportedPreTokenizer(let p, let n):
            return "\(p): tokenizer.ggml.pre is '\(n)', a pre-tokenizer this engine does not implement (supported: GPT-2, smollm/starcoder, llama-bpe/llama3, qwen2 and their aliases)"
        }
    }
}
