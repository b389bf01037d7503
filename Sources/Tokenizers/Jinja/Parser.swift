/// Recursive-descent parser for the Jinja subset chat templates use. Operator
/// precedence follows jinja2: conditional < or < and < not < comparison < +,- <
/// ~ < *,/,//,% < ** < unary; postfix `.x`, `[i]`, `(args)`, `|filter`, `is test`.
struct TemplateParser {
    private var segments: [TemplateLexer.Segment]
    private var pos = 0

    init(segments: [TemplateLexer.Segment]) { self.segments = segments }

    static func parse(_ source: String, options: TemplateLexer.Options) throws -> [Node] {
        var p = TemplateParser(segments: try TemplateLexer.segments(source, options: options))
        let (nodes, end) = try p.parseBody(until: [])
        if let end { throw TemplateError.syntax(line: end.line, message: "unexpected '{% \(end.keyword) %}'") }
        return nodes
    }

    private struct EndTag { let keyword: String; var tokens: ExprStream; let line: Int }

    /// Parses nodes until a statement whose first word is in `terminators` (returned, consumed).
    private mutating func parseBody(until terminators: Set<String>) throws -> ([Node], EndTag?) {
        var nodes = [Node]()
        while pos < segments.count {
            let seg = segments[pos]; pos += 1
            switch seg {
            case .text(let t): nodes.append(.text(t))
            case .output(let toks, let line):
                var s = ExprStream(toks, line: line)
                let e = try s.parseExpression()
                try s.expectEnd()
                nodes.append(.output(e, line: line))
            case .statement(let toks, let line):
                var s = ExprStream(toks, line: line)
                guard case .name(let kw)? = s.peek else { throw TemplateError.syntax(line: line, message: "empty or malformed statement") }
                if terminators.contains(kw) { s.advance(); return (nodes, EndTag(keyword: kw, tokens: s, line: line)) }
                s.advance()
                nodes.append(try parseStatement(kw, &s, line: line))
            }
        }
        if !terminators.isEmpty {
            let line = segments.last.map { seg -> Int in
                switch seg { case .output(_, let l), .statement(_, let l): return l; case .text: return 0 }
            } ?? 0
            let closer = terminators.first { $0.hasPrefix("end") } ?? terminators.sorted()[0]
            throw TemplateError.syntax(line: line, message: "missing {% \(closer) %} before the end of the template")
        }
        return (nodes, nil)
    }

    private mutating func parseStatement(_ kw: String, _ s: inout ExprStream, line: Int) throws -> Node {
        switch kw {
        case "if":
            var branches = [(Expr, [Node])]()
            var cond = try s.parseExpression()
            try s.expectEnd()
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"])
                branches.append((cond, body))
                guard var e = end else { throw TemplateError.syntax(line: line, message: "missing {% endif %}") }
                switch e.keyword {
                case "elif":
                    cond = try e.tokens.parseExpression(); try e.tokens.expectEnd()
                case "else":
                    try e.tokens.expectEnd()
                    let (elseBody, end2) = try parseBody(until: ["endif"])
                    _ = end2
                    return .ifBlock(branches, else: elseBody, line: line)
                default:
                    return .ifBlock(branches, else: [], line: line)
                }
            }
        case "for":
            var targets = [try s.expectName()]
            while s.accept(op: ",") { targets.append(try s.expectName()) }
            try s.expect(name: "in")
            let iterable = try s.parseExpression(allowConditional: false)
            var condition: Expr?
            if s.accept(name: "if") { condition = try s.parseExpression(allowConditional: false) }
            if s.accept(name: "recursive") { throw TemplateError.unsupported(line: line, construct: "recursive for loops") }
            try s.expectEnd()
            let (body, end) = try parseBody(until: ["else", "endfor"])
            var elseBody = [Node]()
            if end?.keyword == "else" { elseBody = try parseBody(until: ["endfor"]).0 }
            return .forBlock(targets: targets, iterable: iterable, condition: condition, body: body, else: elseBody, line: line)
        case "set":
            let first = try s.expectName()
            var target = SetTarget.names([first])
            if s.accept(op: ".") {
                target = .attribute(first, try s.expectName())
            } else {
                var names = [first]
                while s.accept(op: ",") { names.append(try s.expectName()) }
                target = .names(names)
            }
            if s.accept(op: "=") {
                let value = try s.parseTupleOrExpression()
                try s.expectEnd()
                return .set(target: target, value: value, line: line)
            }
            guard case .names(let ns) = target, ns.count == 1 else { throw TemplateError.syntax(line: line, message: "expected '=' in set") }
            if s.peek == .op("|") { throw TemplateError.unsupported(line: line, construct: "filtered {% set %} blocks") }
            try s.expectEnd()
            let (body, _) = try parseBody(until: ["endset"])
            return .setBlock(name: first, body: body, line: line)
        case "macro":
            let name = try s.expectName()
            try s.expect(op: "(")
            var params = [(String, Expr?)]()
            if !s.accept(op: ")") {
                repeat {
                    let p = try s.expectName()
                    params.append((p, s.accept(op: "=") ? try s.parseExpression() : nil))
                } while s.accept(op: ",")
                try s.expect(op: ")")
            }
            try s.expectEnd()
            let (body, _) = try parseBody(until: ["endmacro"])
            return .macro(name: name, parameters: params, body: body, line: line)
        case "break", "continue":
            try s.expectEnd()
            return .loopControl(isBreak: kw == "break", line: line)
        case "generation":
            try s.expectEnd()
            return .group(try parseBody(until: ["endgeneration"]).0)
        case "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration":
            throw TemplateError.syntax(line: line, message: "unexpected '{% \(kw) %}'")
        default:
            throw TemplateError.unsupported(line: line, construct: "the '{% \(kw) %}' statement")
        }
    }
}

/// Token cursor and expression grammar for the inside of one tag.
struct ExprStream {
    private let toks: [ExprToken]
    private var i = 0
    let line: Int

    init(_ toks: [ExprToken], line: Int) { self.toks = toks; self.line = line }

    var peek: ExprToken? { i < toks.count ? toks[i] : nil }
    private func peek(_ k: Int) -> ExprToken? { i + k < toks.count ? toks[i + k] : nil }
    mutating func advance() { i += 1 }

    mutating func accept(op: String) -> Bool { if peek == .op(op) { i += 1; return true }; return false }
    mutating func accept(name: String) -> Bool { if peek == .name(name) { i += 1; return true }; return false }
    mutating func expect(op: String) throws { guard accept(op: op) else { throw error("expected '\(op)'") } }
    mutating func expect(name: String) throws { guard accept(name: name) else { throw error("expected '\(name)'") } }
    mutating func expectName() throws -> String {
        guard case .name(let n)? = peek else { throw error("expected a name") }
        i += 1; return n
    }
    func expectEnd() throws { if i < toks.count { throw error("unexpected \(describe(toks[i]))") } }

    private func error(_ m: String) -> TemplateError {
        .syntax(line: line, message: m + (i < toks.count ? " near \(describe(toks[i]))" : " at the end of the tag"))
    }
    private func describe(_ t: ExprToken) -> String {
        switch t {
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string \"\(s.prefix(20))\""
        case .int(let n): return "\(n)"
        case .float(let d): return "\(d)"
        case .op(let o): return "'\(o)'"
        }
    }

    /// `a, b` without brackets is a tuple (in `set` and `for`).
    mutating func parseTupleOrExpression() throws -> Expr {
        let first = try parseExpression()
        guard peek == .op(",") else { return first }
        var items = [first]
        while accept(op: ",") { if peek == nil { break }; items.append(try parseExpression()) }
        return .list(items)
    }

    mutating func parseExpression(allowConditional: Bool = true) throws -> Expr {
        let e = try parseOr()
        guard allowConditional, accept(name: "if") else { return e }
        let cond = try parseOr()
        let other = accept(name: "else") ? try parseExpression() : nil
        return .conditional(cond, then: e, else: other)
    }

    private mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while accept(name: "or") { e = .binary("or", e, try parseAnd()) }
        return e
    }

    private mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while accept(name: "and") { e = .binary("and", e, try parseNot()) }
        return e
    }

    private mutating func parseNot() throws -> Expr {
        if accept(name: "not") { return .unary("not", try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        var e = try parseAdditive()
        while true {
            if case .op(let o)? = peek, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                advance(); e = .binary(o, e, try parseAdditive())
            } else if accept(name: "in") {
                e = .binary("in", e, try parseAdditive())
            } else if peek == .name("not") && peek(1) == .name("in") {
                i += 2; e = .binary("not in", e, try parseAdditive())
            } else {
                return e
            }
        }
    }

    private mutating func parseAdditive() throws -> Expr {
        var e = try parseConcat()
        while true {
            if accept(op: "+") { e = .binary("+", e, try parseConcat()) }
            else if accept(op: "-") { e = .binary("-", e, try parseConcat()) }
            else { return e }
        }
    }

    private mutating func parseConcat() throws -> Expr {
        var e = try parseMultiplicative()
        while accept(op: "~") { e = .binary("~", e, try parseMultiplicative()) }
        return e
    }

    private mutating func parseMultiplicative() throws -> Expr {
        var e = try parsePower()
        while true {
            if case .op(let o)? = peek, ["*", "/", "//", "%"].contains(o) { advance(); e = .binary(o, e, try parsePower()) }
            else { return e }
        }
    }

    private mutating func parsePower() throws -> Expr {
        var e = try parseUnary()
        while accept(op: "**") { e = .binary("**", e, try parseUnary()) }
        return e
    }

    /// As in jinja2, filters bind looser than a sign: `-3|abs` is `abs(-3)`.
    private mutating func parseUnary(withFilters: Bool = true) throws -> Expr {
        let e: Expr
        if accept(op: "-") { e = .unary("-", try parseUnary(withFilters: false)) }
        else if accept(op: "+") { e = .unary("+", try parseUnary(withFilters: false)) }
        else { e = try parsePostfix(try parsePrimary()) }
        return withFilters ? try parseFilters(e) : e
    }

    private mutating func parsePrimary() throws -> Expr {
        guard let t = peek else { throw error("expected an expression") }
        advance()
        switch t {
        case .string(var s):
            while case .string(let more)? = peek { s += more; advance() }  // adjacent literals concatenate
            return .literal(.string(s))
        case .int(let n): return .literal(.int(n))
        case .float(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            if accept(op: ")") { return .list([]) }
            let e = try parseExpression()
            if peek == .op(",") {
                var items = [e]
                while accept(op: ",") { if peek == .op(")") { break }; items.append(try parseExpression()) }
                try expect(op: ")")
                return .list(items)
            }
            try expect(op: ")")
            return e
        case .op("["):
            var items = [Expr]()
            while !accept(op: "]") {
                items.append(try parseExpression())
                if !accept(op: ",") { try expect(op: "]"); break }
            }
            return .list(items)
        case .op("{"):
            var pairs = [(Expr, Expr)]()
            while !accept(op: "}") {
                let k = try parseExpression()
                try expect(op: ":")
                pairs.append((k, try parseExpression()))
                if !accept(op: ",") { try expect(op: "}"); break }
            }
            return .dict(pairs)
        default:
            i -= 1
            throw error("expected an expression")
        }
    }

    private mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            if accept(op: ".") {
                if case .int(let n)? = peek { advance(); e = .index(e, .literal(.int(n))); continue }
                e = .attribute(e, try expectName())
            } else if accept(op: "[") {
                e = try parseSubscript(e)
            } else if peek == .op("(") {
                advance()
                let (args, kwargs) = try parseArguments()
                e = .call(e, args, kwargs)
            } else {
                return e
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr) throws -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !accept(op: "]") {
            if accept(op: ":") { isSlice = true; parts.append(nil); continue }
            guard parts[parts.count - 1] == nil else { throw error("expected ']'") }
            parts[parts.count - 1] = try parseExpression()
        }
        if !isSlice {
            guard let idx = parts[0] else { throw error("empty subscript") }
            return .index(base, idx)
        }
        guard parts.count <= 3 else { throw error("too many ':' in a slice") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, parts[0], parts[1], parts[2])
    }

    /// After '(' : positional and keyword arguments up to ')'.
    private mutating func parseArguments() throws -> ([Expr], [(String, Expr)]) {
        var args = [Expr](), kwargs = [(String, Expr)]()
        while !accept(op: ")") {
            if case .name(let n)? = peek, peek(1) == .op("=") {
                i += 2; kwargs.append((n, try parseExpression()))
            } else {
                args.append(try parseExpression())
            }
            if !accept(op: ",") { try expect(op: ")"); break }
        }
        return (args, kwargs)
    }

    private mutating func parseFilters(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            if accept(op: "|") {
                var name = try expectName()
                while accept(op: ".") { name += "." + (try expectName()) }
                var args = [Expr](), kwargs = [(String, Expr)]()
                if accept(op: "(") { (args, kwargs) = try parseArguments() }
                e = .filter(e, name, args, kwargs)
            } else if accept(name: "is") {
                let negated = accept(name: "not")
                var name = try expectName()
                if name == "none" || name == "true" || name == "false" { name = name.lowercased() }
                var args = [Expr]()
                if accept(op: "(") {
                    let (a, _) = try parseArguments(); args = a
                } else if let t = peek, startsArgument(t) {
                    args = [try parsePostfix(try parsePrimary())]
                }
                e = .test(e, name, args, negated: negated)
            } else {
                return e
            }
        }
    }

    /// `x is divisibleby 3`, `x is sameas none`: a test's single argument may come without parentheses.
    private func startsArgument(_ t: ExprToken) -> Bool {
        switch t {
        case .string, .int, .float: return true
        case .name(let n): return !["and", "or", "if", "else", "not", "in", "is"].contains(n)
        case .op(let o): return o == "[" || o == "{"
        }
    }
}
