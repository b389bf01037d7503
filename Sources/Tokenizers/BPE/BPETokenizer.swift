import Foundation
import ModelFiles

/// GPT-2 style byte-level BPE, built from GGUF metadata (`tokenizer.ggml.model = gpt2`):
/// the vocabulary, the merges in priority order, token types, and the special tokens,
/// which are matched anywhere in the text when `parseSpecial` is set.
public final class BPETokenizer: Tokenizer, @unchecked Sendable {
    public let tokens: [String]
    public let tokenTypes: [TokenType]
    public let bosTokenID: Int32?
    public let eosTokenID: Int32?
    public let endOfGenerationTokenIDs: Set<Int32>
    public let addBOS: Bool
    public let addEOS: Bool
    public let preTokenizer: PreTokenizer

    private let idOf: [String: Int32]
    /// (left id, right id) -> (rank, merged id)
    private let merges: [PairKey: (rank: Int32, id: Int32)]
    /// Raw bytes of every token (byte-level decoded; special tokens: their text's UTF-8).
    private let tokenBytes: [[UInt8]]
    /// Id of each single byte's token (-1 if the vocabulary has none).
    private let byteToken: [Int32]
    /// Special tokens matched in text, longest first.
    private let specials: [(text: [UInt8], id: Int32)]
    /// First bytes of the special tokens (a cheap filter before matching).
    private let specialFirstBytes: Set<UInt8>
    /// Memoised BPE of recent pieces (most text repeats its words).
    private var pieceCache: [String: [Int32]] = [:]
    private let cacheLock = NSLock()

    public var vocabularySize: Int { tokens.count }

    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct PairKey: Hashable { let a: Int32, b: Int32 }

    /// Builds the tokenizer of a GGUF file; throws `TokenizerError` when the metadata is unusable.
    public convenience init(gguf f: GGUFFile) throws {
        let model = try f.string("tokenizer.ggml.model")
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(path: f.path, model: model) }
        let tokens = try f.strings("tokenizer.ggml.tokens")
        let types = f.metadata["tokenizer.ggml.token_type"] == nil ? [] : try f.integers("tokenizer.ggml.token_type")
        let merges = try f.strings("tokenizer.ggml.merges")
        let pre = f.metadata["tokenizer.ggml.pre"] == nil ? "default" : try f.string("tokenizer.ggml.pre")
        guard let preTokenizer = PreTokenizer(ggufName: pre) else { throw TokenizerError.unsupportedPreTokenizer(path: f.path, name: pre) }
        func optionalID(_ key: String) throws -> Int32? {
            guard f.metadata[key] != nil else { return nil }
            let v = try f.int(key)
            guard v >= 0 && v < tokens.count else { throw TokenizerError.badTokenID(path: f.path, key: key, id: v, vocab: tokens.count) }
            return Int32(v)
        }
        try self.init(tokens: tokens, tokenTypes: types.map { TokenType(rawValue: Int32(truncatingIfNeeded: $0)) ?? .normal },
                      merges: merges, bos: optionalID("tokenizer.ggml.bos_token_id"),
                      eos: optionalID("tokenizer.ggml.eos_token_id"), eot: optionalID("tokenizer.ggml.eot_token_id"),
                      addBOS: f.bool("tokenizer.ggml.add_bos_token", default: false),
                      addEOS: f.bool("tokenizer.ggml.add_eos_token", default: false),
                      preTokenizer: preTokenizer, source: f.path)
    }

    public init(tokens: [String], tokenTypes: [TokenType], merges mergeList: [String], bos: Int32?, eos: Int32?,
                eot: Int32? = nil, addBOS: Bool, addEOS: Bool, preTokenizer: PreTokenizer, source: String = "<memory>") throws {
        guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary(path: source) }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw TokenizerError.countMismatch(path: source, tokens: tokens.count, types: tokenTypes.count)
        }
        self.tokens = tokens
        self.tokenTypes = tokenTypes.isEmpty ? Array(repeating: .normal, count: tokens.count) : tokenTypes
        self.bosTokenID = bos; self.eosTokenID = eos
        self.addBOS = addBOS; self.addEOS = addEOS
        self.preTokenizer = preTokenizer

        var idOf = [String: Int32](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() where idOf[t] == nil { idOf[t] = Int32(i) }
        self.idOf = idOf

        var m = [PairKey: (rank: Int32, id: Int32)](minimumCapacity: mergeList.count)
        for (rank, line) in mergeList.enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let a = idOf[String(parts[0])], let b = idOf[String(parts[1])],
                  let ab = idOf[String(parts[0]) + String(parts[1])] else {
                throw TokenizerError.badMerge(path: source, index: rank, merge: line)
            }
            if m[PairKey(a: a, b: b)] == nil { m[PairKey(a: a, b: b)] = (Int32(rank), ab) }
        }
        merges = m

        var bytes = [[UInt8]]()
        bytes.reserveCapacity(tokens.count)
        var specials = [(text: [UInt8], id: Int32)]()
        for (i, t) in tokens.enumerated() {
            switch self.tokenTypes[i] {
            case .control, .userDefined:
                bytes.append(Array(t.utf8))
                if !t.isEmpty { specials.append((Array(t.utf8), Int32(i))) }
            case .unused:
                bytes.append([])
            default:
                bytes.append(ByteLevel.decode(t) ?? Array(t.utf8))
            }
        }
        tokenBytes = bytes
        self.specials = specials.sorted { $0.text.count > $1.text.count }
        specialFirstBytes = Set(specials.compactMap { $0.text.first })

        // Some vocabularies lack rare control bytes; like llama.cpp, such bytes are dropped from the
        // output (-1 here never takes part in a merge).
        self.byteToken = (0..<256).map { idOf[String(ByteLevel.encodeTable[$0])] ?? -1 }

        var eog = Set<Int32>()
        if let eos { eog.insert(eos) }
        if let eot { eog.insert(eot) }
        // Chat models end a turn with one of these; llama.cpp recognises them by text too.
        for name in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "</s>"] {
            if let id = idOf[name], self.tokenTypes[Int(id)] == .control { eog.insert(id) }
        }
        endOfGenerationTokenIDs = eog
    }

    // MARK: - Encoding

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var out = [Int32]()
        if addSpecial && addBOS, let bos = bosTokenID { out.append(bos) }
        let utf8 = Array(text.utf8)
        var segmentStart = 0
        var i = 0
        if parseSpecial && !specials.isEmpty {
            while i < utf8.count {
                if specialFirstBytes.contains(utf8[i]), let (len, id) = matchSpecial(utf8, at: i) {
                    encodeOrdinary(utf8[segmentStart..<i], into: &out)
                    out.append(id)
                    i += len
                    segmentStart = i
                } else {
                    i += 1
                }
            }
        }
        encodeOrdinary(utf8[segmentStart..<utf8.count], into: &out)
        if addSpecial && addEOS, let eos = eosTokenID { out.append(eos) }
        return out
    }


    private func matchSpecial(_ s: [UInt8], at i: Int) -> (Int, Int32)? {
        for sp in specials where sp.text.count <= s.count - i {
            var ok = true
            for (k, b) in sp.text.enumerated() where s[i + k] != b { ok = false; break }
            if ok { return (sp.text.count, sp.id) }
        }
        return nil
    }

    private func encodeOrdinary(_ bytes: ArraySlice<UInt8>, into out: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        // Slices between special tokens are whole UTF-8 sequences (specials are valid UTF-8).
        let text = String(decoding: bytes, as: UTF8.self)
        for piece in preTokenizer.split(text) { out += bpe(piece) }
    }

    /// BPE of one pre-tokenized piece: start from its bytes, repeatedly merge the adjacent
    /// pair of lowest rank.
    func bpe(_ piece: String) -> [Int32] {
        cacheLock.lock()
        if let hit = pieceCache[piece] { cacheLock.unlock(); return hit }
        cacheLock.unlock()
        var ids = piece.utf8.map { byteToken[Int($0)] }
        while ids.count > 1 {
            var best: (rank: Int32, at: Int, id: Int32)?
            for k in 0..<(ids.count - 1) {
                if let m = merges[PairKey(a: ids[k], b: ids[k + 1])], best == nil || m.rank < best!.rank {
                    best = (m.rank, k, m.id)
                }
            }
            guard let b = best else { break }
            ids[b.at] = b.id
            ids.remove(at: b.at + 1)
        }
        ids.removeAll { $0 < 0 }
        cacheLock.lock()
        if pieceCache.count > 50_000 { pieceCache.removeAll(keepingCapacity: true) }
        pieceCache[piece] = ids
        cacheLock.unlock()
        return ids
    }

    // MARK: - Decoding

    public func bytes(of id: Int32, renderSpecial: Bool) -> [UInt8] {
        guard id >= 0 && Int(id) < tokens.count else { return [] }
        if tokenTypes[Int(id)] == .control && !renderSpecial { return [] }
        return tokenBytes[Int(id)]
    }

    /// The vocabulary entry of `id` (byte-level form), for display.
    public func piece(_ id: Int32) -> String? { id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil }

    public func id(of token: String) -> Int32? { idOf[token] }
}
