import Foundation

/// Grades a model's answer against a gold answer, as the paper and the data README do: the last
/// `\boxed{...}` (nested braces allowed), else the last number in the text; both sides
/// normalised (spaces, `\left`/`\right`, `\!`, `^\circ`, `\dfrac`/`\tfrac`, `\text{...}` units,
/// thousands separators, `$`, a trailing `.`) and compared numerically when both are numbers
/// (integers, decimals, `a/b`, `\frac{a}{b}`), else as strings; a gold letter A-J is a
/// multiple-choice answer compared by letter. An answer cut off at the token limit is wrong:
/// the caller passes `truncated`.
public enum AnswerGrader {
    public struct Grade: Sendable, Equatable {
        /// The extracted answer (nil: nothing to grade).
        public var answer: String?
        public var correct: Bool
    }

    public static func grade(_ text: String, gold: String, truncated: Bool = false) -> Grade {
        if isChoiceLetter(gold) {
            let letter = extractChoice(text)
            return Grade(answer: letter, correct: !truncated && letter == normalize(gold).uppercased())
        }
        guard let answer = extractAnswer(text) else { return Grade(answer: nil, correct: false) }
        return Grade(answer: answer, correct: !truncated && equivalent(answer, gold))
    }

    /// The content of the last `\boxed{...}` (or `\fbox{...}`), else the last number.
    public static func extractAnswer(_ text: String) -> String? {
        lastBoxed(text) ?? lastNumber(text)
    }

    /// Whether two answers are the same after normalisation (numerically when both are numbers).
    public static func equivalent(_ a: String, _ b: String) -> Bool {
        let na = normalize(a), nb = normalize(b)
        if let x = numericValue(na), let y = numericValue(nb) {
            return abs(x - y) <= 1e-9 * max(1, abs(x), abs(y))
        }
        return na == nb
    }

    // MARK: - Extraction

    static func lastBoxed(_ text: String) -> String? {
        let chars = Array(text)
        var result: String?
        var i = 0
        while i < chars.count {
            var matched: Int?
            for key in ["\\boxed", "\\fbox"] where matches(chars, at: i, key) { matched = key.count }
            guard let k = matched else { i += 1; continue }
            var j = i + k
            while j < chars.count && chars[j] == " " { j += 1 }
            guard j < chars.count, chars[j] == "{" else { i += k; continue }
            var depth = 0, end = j
            while end < chars.count {
                if chars[end] == "{" { depth += 1 } else if chars[end] == "}" { depth -= 1; if depth == 0 { break } }
                end += 1
            }
            guard end < chars.count else { break }  // unbalanced: no answer from this box
            result = String(chars[(j + 1)..<end])
            i = end + 1
        }
        return result
    }

    private static func matches(_ chars: [Character], at i: Int, _ key: String) -> Bool {
        var j = i
        for c in key { guard j < chars.count, chars[j] == c else { return false }; j += 1 }
        return true
    }

    /// The last number: optional minus sign, digits with optional thousands commas, optional
    /// decimals, optionally a fraction `a/b`.
    static func lastNumber(_ text: String) -> String? {
        let pattern = #"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?"#
        guard let re = try? NSRegularExpression(pattern: pattern) else { return nil }
        let ns = text as NSString
        guard let m = re.matches(in: text, range: NSRange(location: 0, length: ns.length)).last else { return nil }
        var s = ns.substring(with: m.range)
        while s.hasSuffix(",") { s.removeLast() }
        return s
    }

    static func isChoiceLetter(_ gold: String) -> Bool {
        let g = normalize(gold)
        return g.count == 1 && "ABCDEFGHIJ".contains(g.uppercased())
    }

    /// A multiple-choice letter: the boxed answer's letter, else "answer is (X)" / "(X)" / a lone letter, last one wins.
    static func extractChoice(_ text: String) -> String? {
        if let boxed = lastBoxed(text) {
            let b = normalize(boxed).replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "")
            if let first = b.first, "ABCDEFGHIJ".contains(first.uppercased()), b.count == 1 || !b.dropFirst().first!.isLetter {
                return first.uppercased()
            }
        }
        for pattern in [#"[Aa]nswer(?: is)?:?\s*\(?([A-J])\)?"#, #"\(([A-J])\)"#, #"\b([A-J])\b"#] {
            guard let re = try? NSRegularExpression(pattern: pattern) else { continue }
            let ns = text as NSString
            if let m = re.matches(in: text, range: NSRange(location: 0, length: ns.length)).last {
                return ns.substring(with: m.range(at: 1))
            }
        }
        return nil
    }

    // MARK: - Normalisation

    public static func normalize(_ s: String) -> String {
        var t = s.replacingOccurrences(of: "\u{2212}", with: "-")  // Unicode minus
        // `\text{ cm}` and friends after a value are units; a lone `\text{A}` is the value itself.
        t = replace(t, #"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}"#, with: "$1")
        for (from, to) in [("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\dfrac", "\\frac"),
                           ("\\tfrac", "\\frac"), ("^\\circ", ""), ("^{\\circ}", ""), ("\\%", ""), ("%", ""), ("$", ""),
                           ("\\displaystyle", "")] {
            t = t.replacingOccurrences(of: from, with: to)
        }
        t = t.components(separatedBy: .whitespacesAndNewlines).joined()
        while t.hasSuffix(".") { t.removeLast() }
        // A value followed by a word unit ("12cm", "5dollars"): keep the number.
        if let m = firstMatch(t, #"^(-?\d[\d,]*(?:\.\d+)?)[A-Za-z]+$"#) { t = m }
        // Thousands separators in a plain number.
        if firstMatch(t, #"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"#) != nil { t = t.replacingOccurrences(of: ",", with: "") }
        // \frac12 -> \frac{1}{2}
        t = replace(t, #"\\frac(\d)(\d)"#, with: #"\\frac{$1}{$2}"#)
        return t
    }

    /// The value of a normalised numeric answer: integer, decimal, a/b, \frac{a}{b}, -\frac{a}{b}.
    static func numericValue(_ s: String) -> Double? {
        if let v = Double(s), s.first != "+" && !s.lowercased().contains("e") && !s.lowercased().contains("n") { return v }
        if let r = firstGroups(s, #"^(-?)\\frac\{(-?\d+(?:\.\d+)?)\}\{(-?\d+(?:\.\d+)?)\}$"#),
           let a = Double(r[1]), let b = Double(r[2]), b != 0 {
            return (r[0] == "-" ? -1 : 1) * a / b
        }
        if let r = firstGroups(s, #"^(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$"#), let a = Double(r[0]), let b = Double(r[1]), b != 0 {
            return a / b
        }
        return nil
    }

    // MARK: - Regex helpers

    private static func firstMatch(_ s: String, _ pattern: String) -> String? {
        firstGroups(s, pattern)?.first
    }

    private static func firstGroups(_ s: String, _ pattern: String) -> [String]? {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return nil }
        let ns = s as NSString
        guard let m = re.firstMatch(in: s, range: NSRange(location: 0, length: ns.length)) else { return nil }
        guard m.numberOfRanges > 1 else { return [ns.substring(with: m.range)] }
        return (1..<m.numberOfRanges).map { m.range(at: $0).location == NSNotFound ? "" : ns.substring(with: m.range(at: $0)) }
    }

    /// Replaces every match of `pattern` by `template` ($1, $2: the groups).
    private static func replace(_ s: String, _ pattern: String, with template: String) -> String {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return s }
        return re.stringByReplacingMatches(in: s, range: NSRange(location: 0, length: (s as NSString).length), withTemplate: template)
    }
}
