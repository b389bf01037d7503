/// Splits text into the pieces that BPE merges never cross, as the pre-tokenizer regexes of the
/// supported model families do, written out by hand over Unicode scalars (a regex engine would
/// cost more than the merges):
///
/// - `.gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
///   with `isolateDigits`, every \p{N} is first split off on its own (`smollm`, `starcoder`).
/// - `.llama3` (maxDigits 3) and `.qwen2` (maxDigits 1):
///   `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|`
///   ` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
///
/// Tested against Python's `regex` module (scripts/make-pretokenizer-fixtures.py).
public struct PreTokenizer: Sendable, Equatable {
    public enum Style: Sendable, Equatable {
        case gpt2(isolateDigits: Bool)
        case llama3(maxDigits: Int)
    }

    public var style: Style

    public init(style: Style) { self.style = style }
    public init(isolateDigits: Bool) { style = .gpt2(isolateDigits: isolateDigits) }

    /// The style for a GGUF `tokenizer.ggml.pre` name (llama.cpp's names); nil if unknown.
    public init?(ggufName pre: String) {
        switch pre {
        case "default", "gpt-2", "gpt2": style = .gpt2(isolateDigits: false)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva": style = .gpt2(isolateDigits: true)
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral": style = .llama3(maxDigits: 3)
        case "qwen2", "deepseek-r1-qwen", "megrez", "hunyuan": style = .llama3(maxDigits: 1)
        default: return nil
        }
    }

    /// The pieces of `text` (concatenated they give back `text`).
    public func split(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var pieces = [String]()
        func emit(_ a: Int, _ b: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[a..<b])
            pieces.append(String(v))
        }
        func run(_ lo: Int, _ hi: Int) {
            var i = lo
            while i < hi {
                let j: Int
                switch style {
                case .gpt2: j = Self.gpt2Match(s, i, hi)
                case .llama3(let maxDigits): j = Self.llama3Match(s, i, hi, maxDigits: maxDigits)
                }
                emit(i, j)
                i = j
            }
        }
        var chunkStart = 0
        if case .gpt2(true) = style {
            for (i, u) in s.enumerated() where CharClass(u) == .number {
                run(chunkStart, i)
                emit(i, i + 1)
                chunkStart = i + 1
            }
        }
        run(chunkStart, s.count)
        return pieces
    }

    enum CharClass { case letter, number, space, other }

    /// Length of an English contraction at i ('s 't 'm 'd 're 've 'll), 0 if none.
    static func contraction(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func lower(_ u: Unicode.Scalar) -> Unicode.Scalar {
            caseInsensitive && ("A"..."Z").contains(u) ? Unicode.Scalar(u.value + 32)! : u
        }
        let n = lower(s[i + 1])
        if n == "s" || n == "t" || n == "m" || n == "d" { return 2 }
        if i + 2 < end {
            let m = lower(s[i + 2])
            if (n == "r" && m == "e") || (n == "v" && m == "e") || (n == "l" && m == "l") { return 3 }
        }
        return 0
    }

    /// End of the whitespace alternatives `\s+(?!\S)|\s+` at i (s[i] is whitespace).
    static func whitespaceEnd(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        var j = i + 1
        while j < end && CharClass(s[j]) == .space { j += 1 }
        // \s+(?!\S) leaves the last space to the word that follows; a single one falls to \s+.
        return j < end && j - i > 1 ? j - 1 : j
    }

    /// End of the GPT-2 regex match that starts at i (always > i).
    static func gpt2Match(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let c = contraction(s, i, end, caseInsensitive: false)
        if c > 0 { return i + c }
        var start = i
        if s[i] == " " && i + 1 < end && CharClass(s[i + 1]) != .space { start = i + 1 }
        let cls = CharClass(s[start])
        if cls != .space {
            var j = start + 1
            while j < end && CharClass(s[j]) == cls { j += 1 }
            return j
        }
        return whitespaceEnd(s, i, end)
    }

    /// End of the Llama 3 / Qwen2 regex match that starts at i (always > i).
    static func llama3Match(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        let c = contraction(s, i, end, caseInsensitive: true)
        if c > 0 { return i + c }
        let cls = CharClass(s[i])
        @inline(__always) func isNewline(_ u: Unicode.Scalar) -> Bool { u == "\r" || u == "\n" }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        var start = i
        if cls != .letter && cls != .number && !isNewline(s[i]) && i + 1 < end && CharClass(s[i + 1]) == .letter { start = i + 1 }
        if CharClass(s[start]) == .letter {
            var j = start + 1
            while j < end && CharClass(s[j]) == .letter { j += 1 }
            return j
        }
        // \p{N}{1,maxDigits}
        if cls == .number {
            var j = i + 1
            while j < end && j - i < maxDigits && CharClass(s[j]) == .number { j += 1 }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var o = i
        if s[i] == " " && i + 1 < end && CharClass(s[i + 1]) == .other { o = i + 1 }
        if CharClass(s[o]) == .other {
            var j = o + 1
            while j < end && CharClass(s[j]) == .other { j += 1 }
            while j < end && isNewline(s[j]) { j += 1 }
            return j
        }
        // \s*[\r\n]+ : the whitespace run up to and including its last newline.
        var j = i
        var lastNewline = -1
        while j < end && CharClass(s[j]) == .space { if isNewline(s[j]) { lastNewline = j }; j += 1 }
        if lastNewline >= 0 { return lastNewline + 1 }
        return whitespaceEnd(s, i, end)
    }
}

extension PreTokenizer.CharClass {
    init(_ u: Unicode.Scalar) {
        if u.value < 128 {  // fast path for ASCII
            switch u.value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .space
            default: self = .other
            }
            return
        }
        if u.properties.isWhitespace { self = .space; return }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
        case .decimalNumber, .letterNumber, .otherNumber: self = .number
        default: self = .other
        }
    }
}
