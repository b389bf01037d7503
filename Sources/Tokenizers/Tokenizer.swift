/// Turns text into token ids and back.
///
/// ```swift
/// let tok = try BPETokenizer(gguf: GGUFFile(path: "model.gguf"))
/// let ids = tok.encode("<|im_start|>user\nHi", addSpecial: true, parseSpecial: true)
/// let text = tok.decode(ids, renderSpecial: true)
/// ```
public protocol Tokenizer: Sendable {
    /// Number of token ids (valid ids are 0..<vocabularySize).
    var vocabularySize: Int { get }
    var bosTokenID: Int32? { get }
    var eosTokenID: Int32? { get }
    /// Tokens that end a generation (end of sequence, end of turn).
    var endOfGenerationTokenIDs: Set<Int32> { get }

    /// Token ids of `text`. `addSpecial` adds BOS/EOS as the model's metadata asks;
    /// `parseSpecial` turns special-token text (e.g. `<|im_start|>`) into its id.
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]

    /// The raw bytes a token stands for (control tokens: their text if `renderSpecial`, else nothing).
    func bytes(of id: Int32, renderSpecial: Bool) -> [UInt8]
}

extension Tokenizer {
    /// The text of `ids`; invalid UTF-8 becomes U+FFFD.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes = [UInt8]()
        for id in ids { bytes += self.bytes(of: id, renderSpecial: renderSpecial) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
