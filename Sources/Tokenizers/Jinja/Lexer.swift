/// Splits a template into text and tags, applying whitespace control (`-`, `+`) and the
/// `trim_blocks` / `lstrip_blocks` options, then tokenizes the inside of each tag.
struct TemplateLexer {
    enum Segment {
        case text(String)
        case output([ExprToken], line: Int)     // {{ ... }}
        case statement([ExprToken], line: Int)  // {% ... %}
    }

    struct Options {
        /// Remove the first newline after a block tag (Hugging Face renders chat templates so).
        var trimBlocks = true
        /// Strip spaces and tabs before a block tag at the start of a line.
        var lstripBlocks = true
    }

    private enum TagKind { case output, statement, comment }
    private struct RawTag {
        var kind: TagKind
        var body: String
        var line: Int
        var minusLeft = false, minusRight = false, plusLeft = false
    }
    private enum Raw { case text(String), tag(RawTag) }

    static func segments(_ source: String, options: Options) throws -> [Segment] {
        let raw = try scan(Array(source.unicodeScalars))
        // Whitespace control around each tag.
        var texts: [String?] = raw.map { if case .text(let t) = $0 { return t } else { return nil } }
        for (i, r) in raw.enumerated() {
            guard case .tag(let tag) = r else { continue }
            let isBlock = tag.kind != .output
            if i > 0, let prev = texts[i - 1] {
                if tag.minusLeft {
                    texts[i - 1] = String(String.UnicodeScalarView(prev.unicodeScalars.reversed().drop { $0.properties.isWhitespace }.reversed()))
                } else if isBlock && options.lstripBlocks && !tag.plusLeft {
                    texts[i - 1] = stripLineIndent(prev, atStartOfTemplate: i - 1 == 0)
                }
            }
            if i + 1 < raw.count, let next = texts[i + 1] {
                if tag.minusRight {
                    texts[i + 1] = String(String.UnicodeScalarView(next.unicodeScalars.drop { $0.properties.isWhitespace }))
                } else if isBlock && options.trimBlocks {
                    if next.hasPrefix("\r\n") { texts[i + 1] = String(next.dropFirst(1)) }
                    else if next.hasPrefix("\n") { texts[i + 1] = String(next.unicodeScalars.dropFirst()) }
                }
            }
        }
        var out = [Segment]()
        for (i, r) in raw.enumerated() {
            switch r {
            case .text: if let t = texts[i], !t.isEmpty { out.append(.text(t)) }
            case .tag(let tag):
                switch tag.kind {
                case .comment: break
                case .output: out.append(.output(try ExprLexer.tokenize(tag.body, line: tag.line), line: tag.line))
                case .statement: out.append(.statement(try ExprLexer.tokenize(tag.body, line: tag.line), line: tag.line))
                }
            }
        }
        return out
    }

    /// Removes trailing spaces/tabs if only they follow the last newline (or the template start).
    private static func stripLineIndent(_ s: String, atStartOfTemplate: Bool) -> String {
        let u = Array(s.unicodeScalars)
        var j = u.count
        while j > 0 && (u[j - 1] == " " || u[j - 1] == "\t") { j -= 1 }
        guard j == 0 ? atStartOfTemplate : u[j - 1] == "\n" else { return s }
        return String(String.UnicodeScalarView(u[0..<j]))
    }

    private static func scan(_ s: [Unicode.Scalar]) throws -> [Raw] {
        var out = [Raw]()
        var text = String.UnicodeScalarView()
        var i = 0, line = 1
        func at(_ k: Int) -> Unicode.Scalar? { k < s.count ? s[k] : nil }
        while i < s.count {
            if s[i] == "{", let n = at(i + 1), n == "{" || n == "%" || n == "#" {
                let kind: TagKind = n == "{" ? .output : n == "%" ? .statement : .comment
                let close: Unicode.Scalar = n == "{" ? "}" : n == "%" ? "%" : "#"
                var tag = RawTag(kind: kind, body: "", line: line)
                var j = i + 2
                if at(j) == "-" { tag.minusLeft = true; j += 1 } else if at(j) == "+" { tag.plusLeft = true; j += 1 }
                // Find the closing delimiter outside string literals (comments have none).
                var body = String.UnicodeScalarView()
                var quote: Unicode.Scalar?
                var closed = false
                var depth = 0
                while j < s.count {
                    let c = s[j]
                    if c == "\n" { line += 1 }
                    if let q = quote {
                        body.append(c)
                        if c == "\\", let e = at(j + 1) { body.append(e); j += 2; continue }
                        if c == q { quote = nil }
                        j += 1; continue
                    }
                    if kind != .comment && (c == "'" || c == "\"") { quote = c; body.append(c); j += 1; continue }
                    // As in jinja2, the tag cannot end inside brackets: `{{ {'a': {}} }}` is one tag.
                    if depth == 0 && c == "-" && at(j + 1) == close && at(j + 2) == "}" { tag.minusRight = true; j += 3; closed = true; break }
                    if depth == 0 && c == close && at(j + 1) == "}" { j += 2; closed = true; break }
                    if kind != .comment {
                        if c == "(" || c == "[" || c == "{" { depth += 1 } else if (c == ")" || c == "]" || c == "}") && depth > 0 { depth -= 1 }
                    }
                    body.append(c); j += 1
                }
                guard closed else {
                    throw TemplateError.syntax(line: tag.line, message: "unclosed '{\(n)' tag")
                }
                if !text.isEmpty { out.append(.text(String(text))); text = String.UnicodeScalarView() }
                tag.body = String(body)
                // {% raw %}...{% endraw %}: the content is text.
                if kind == .statement && tag.body.trimmingSpaces == "raw" {
                    guard let end = findEndRaw(s, from: j) else {
                        throw TemplateError.syntax(line: tag.line, message: "{% raw %} without {% endraw %}")
                    }
                    let content = String(String.UnicodeScalarView(s[j..<end.contentEnd]))
                    line += content.unicodeScalars.filter { $0 == "\n" }.count
                    out.append(.text(content))
                    i = end.after
                    continue
                }
                out.append(.tag(tag))
                i = j
                continue
            }
            if s[i] == "\n" { line += 1 }
            text.append(s[i]); i += 1
        }
        if !text.isEmpty { out.append(.text(String(text))) }
        return out
    }

    private static func findEndRaw(_ s: [Unicode.Scalar], from: Int) -> (contentEnd: Int, after: Int)? {
        var k = from
        while k + 1 < s.count {
            if s[k] == "{" && s[k + 1] == "%" {
                var j = k + 2
                if j < s.count && s[j] == "-" { j += 1 }
                var word = String.UnicodeScalarView()
                while j < s.count && s[j] != "%" { word.append(s[j]); j += 1 }
                if String(word).trimmingSpaces.hasPrefix("endraw"), j + 1 < s.count, s[j + 1] == "}" {
                    return (k, j + 2)
                }
            }
            k += 1
        }
        return nil
    }
}

extension String {
    var trimmingSpaces: String {
        let u = unicodeScalars.drop { $0.properties.isWhitespace }
        return String(String.UnicodeScalarView(u.reversed().drop { $0.properties.isWhitespace }.reversed()))
    }
}

/// A token inside a tag.
enum ExprToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case float(Double)
    case op(String)
}

enum ExprLexer {
    static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                            "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"]

    static func tokenize(_ body: String, line: Int) throws -> [ExprToken] {
        let s = Array(body.unicodeScalars)
        var out = [ExprToken]()
        var i = 0
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            if c == "_" || c.properties.isAlphabetic {
                var j = i
                while j < s.count && (s[j] == "_" || s[j].properties.isAlphabetic || ("0"..."9").contains(s[j])) { j += 1 }
                out.append(.name(String(String.UnicodeScalarView(s[i..<j])))); i = j; continue
            }
            if ("0"..."9").contains(c) {
                var j = i
                var isFloat = false
                while j < s.count && (("0"..."9").contains(s[j]) || s[j] == "_") { j += 1 }
                if j + 1 < s.count && s[j] == "." && ("0"..."9").contains(s[j + 1]) {
                    isFloat = true; j += 1
                    while j < s.count && ("0"..."9").contains(s[j]) { j += 1 }
                }
                if j < s.count && (s[j] == "e" || s[j] == "E") {
                    var k = j + 1
                    if k < s.count && (s[k] == "+" || s[k] == "-") { k += 1 }
                    if k < s.count && ("0"..."9").contains(s[k]) {
                        isFloat = true; j = k
                        while j < s.count && ("0"..."9").contains(s[j]) { j += 1 }
                    }
                }
                let text = String(String.UnicodeScalarView(s[i..<j])).replacingUnderscores
                if isFloat {
                    guard let d = Double(text) else { throw TemplateError.syntax(line: line, message: "bad number '\(text)'") }
                    out.append(.float(d))
                } else {
                    guard let n = Int(text) else { throw TemplateError.syntax(line: line, message: "bad number '\(text)'") }
                    out.append(.int(n))
                }
                i = j; continue
            }
            if c == "'" || c == "\"" {
                var j = i + 1
                var v = String.UnicodeScalarView()
                while j < s.count && s[j] != c {
                    if s[j] == "\\" && j + 1 < s.count {
                        j += 1
                        switch s[j] {
                        case "n": v.append("\n")
                        case "t": v.append("\t")
                        case "r": v.append("\r")
                        case "\\": v.append("\\")
                        case "'": v.append("'")
                        case "\"": v.append("\"")
                        case "0": v.append("\0")
                        case "u" where j + 4 < s.count:
                            let hex = String(String.UnicodeScalarView(s[(j + 1)...(j + 4)]))
                            if let code = UInt32(hex, radix: 16), let u = Unicode.Scalar(code) { v.append(u); j += 4 }
                            else { v.append("\\"); v.append("u") }
                        default: v.append("\\"); v.append(s[j])
                        }
                        j += 1; continue
                    }
                    v.append(s[j]); j += 1
                }
                guard j < s.count else { throw TemplateError.syntax(line: line, message: "unterminated string literal") }
                out.append(.string(String(v))); i = j + 1; continue
            }
            var matched = false
            for op in operators where op.unicodeScalars.count <= s.count - i {
                if String(String.UnicodeScalarView(s[i..<(i + op.unicodeScalars.count)])) == op {
                    out.append(.op(op)); i += op.unicodeScalars.count; matched = true; break
                }
            }
            if !matched { throw TemplateError.syntax(line: line, message: "unexpected character '\(c)'") }
        }
        return out
    }
}

private extension String {
    var replacingUnderscores: String { String(unicodeScalars.filter { $0 != "_" }.map(Character.init)) }
}
