/// Splits text into the pieces that BPE merges never cross, as the GPT-2
/// regex does:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// written out by hand over Unicode scalars (the regex engine would cost far
/// more than the merges). `isolateDigits` first splits every \p{N} into its own
/// piece, as the `smollm`/`starcoder` pre-tokenizers (Hugging Face's
/// `Digits(individual_digits=true)`) do.
public struct PreTokenizer: Sendable {
    public var isolateDigits: Bool

    public init(isolateDigits: Bool) { self.isolateDigits = isolateDigits }

    /// The pieces of `text`, as ranges of its scalars (concatenated they give back `text`).
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces = [String]()
        var chunkStart = 0
        func emit(_ a: Int, _ b: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[a..<b])
            pieces.append(String(v))
        }
        func gpt2(_ lo: Int, _ hi: Int) {
            var i = lo
            while i < hi {
                let j = Self.matchEnd(scalars, i, hi)
                emit(i, j)
                i = j
            }
        }
        if isolateDigits {
            for (i, s) in scalars.enumerated() where CharClass(s) == .number {
                gpt2(chunkStart, i)
                emit(i, i + 1)
                chunkStart = i + 1
            }
        }
        gpt2(chunkStart, scalars.count)
        return pieces
    }

    enum CharClass { case letter, number, space, other }

    /// End of the regex match that starts at `i` (always > i).
    static func matchEnd(_ s: [Unicode.Scalar], _ i: Int, _ end: Int) -> Int {
        let c = s[i]
        // Contractions (case-sensitive, as in GPT-2).
        if c == "'" && i + 1 < end {
            let n = s[i + 1]
            if n == "s" || n == "t" || n == "m" || n == "d" { return i + 2 }
            if i + 2 < end {
                let m = s[i + 2]
                if (n == "r" && m == "e") || (n == "v" && m == "e") || (n == "l" && m == "l") { return i + 3 }
            }
        }
        // An optional single space, then a run of one class.
        var start = i
        if c == " " && i + 1 < end && CharClass(s[i + 1]) != .space { start = i + 1 }
        let cls = CharClass(s[start])
        if cls != .space {
            var j = start + 1
            while j < end && CharClass(s[j]) == cls { j += 1 }
            return j
        }
        // Whitespace: \s+(?!\S) leaves the last space to the word that follows; \s+ otherwise.
        var j = i + 1
        while j < end && CharClass(s[j]) == .space { j += 1 }
        if j < end && j - i > 1 { return j - 1 }
        return j
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
