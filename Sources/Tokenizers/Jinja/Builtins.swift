import Foundation

/// Operators, attribute access, global functions, filters and tests.
enum Builtins {
    typealias Interp = TemplateInterpreter

    static let globals: [String: TemplateValue] = [
        "raise_exception": .function(TemplateFunction(name: "raise_exception") { args, _ in
            throw TemplateError.raised(message: args.first?.rendered ?? "")
        }),
        "range": .function(TemplateFunction(name: "range") { args, _ in
            let n = args.compactMap { v -> Int? in if case .int(let i) = v { return i }; return nil }
            guard n.count == args.count, (1...3).contains(n.count) else {
                throw TemplateError.runtime(line: 0, message: "range() takes 1 to 3 integers")
            }
            let (start, stop, step) = n.count == 1 ? (0, n[0], 1) : (n[0], n[1], n.count == 3 ? n[2] : 1)
            guard step != 0 else { throw TemplateError.runtime(line: 0, message: "range() step must not be zero") }
            return .array(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
        }),
        "namespace": .function(TemplateFunction(name: "namespace") { args, kwargs in
            var o = TemplateObject()
            if case .object(let init0)? = args.first { for k in init0.keys { o[k] = init0.values[k] } }
            for (k, v) in kwargs { o[k] = v }
            return .namespace(NamespaceBox(o))
        }),
        "dict": .function(TemplateFunction(name: "dict") { args, kwargs in
            var o = TemplateObject()
            if case .object(let init0)? = args.first { for k in init0.keys { o[k] = init0.values[k] } }
            for (k, v) in kwargs { o[k] = v }
            return .object(o)
        }),
        "strftime_now": .function(TemplateFunction(name: "strftime_now") { args, _ in
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = strftimeToICU(args.first?.rendered ?? "%Y-%m-%d")
            return .string(f.string(from: Date()))
        }),
    ]

    /// The common strftime directives, as ICU date patterns.
    static func strftimeToICU(_ s: String) -> String {
        let map: [Character: String] = ["Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss",
                                        "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "y": "yy", "p": "a", "I": "hh"]
        var out = "", pct = false
        for c in s {
            if pct { out += map[c] ?? String(c); pct = false }
            else if c == "%" { pct = true }
            else if c.isLetter { out += "'\(c)'" }
            else { out.append(c) }
        }
        return out
    }

    // MARK: - Access

    static func attribute(_ v: TemplateValue, _ name: String, _ ip: Interp) throws -> TemplateValue {
        switch v {
        case .object(let o):
            if let x = o[name] { return x }
            if let m = dictMethod(o, name) { return m }
            return .undefined(name)
        case .namespace(let ns): return ns.object[name] ?? .undefined(name)
        case .string(let s):
            if let m = stringMethod(s, name) { return m }
            return .undefined(name)
        case .array(let a):
            if name == "length" { return .int(a.count) }
            return .undefined(name)
        case .undefined(let n):
            throw ip.runtime("'\(n)' is undefined (reading its attribute '\(name)')")
        default: return .undefined(name)
        }
    }

    static func subscriptValue(_ v: TemplateValue, _ i: TemplateValue, _ ip: Interp) throws -> TemplateValue {
        switch (v, i) {
        case (.object, .string(let k)), (.namespace, .string(let k)): return try attribute(v, k, ip)
        case (.array(let a), .int(let n)):
            let k = n < 0 ? a.count + n : n
            return a.indices.contains(k) ? a[k] : .undefined("[\(n)]")
        case (.string(let s), .int(let n)):
            let u = Array(s.unicodeScalars)
            let k = n < 0 ? u.count + n : n
            return u.indices.contains(k) ? .string(String(u[k])) : .undefined("[\(n)]")
        case (.undefined(let n), _): throw ip.runtime("'\(n)' is undefined (subscripting it)")
        default: return .undefined("[\(i.repr)]")
        }
    }

    /// Python slicing of lists and strings, negative indices and steps included.
    static func slice(_ v: TemplateValue, _ a: TemplateValue?, _ b: TemplateValue?, _ c: TemplateValue?, _ ip: Interp) throws -> TemplateValue {
        func int(_ x: TemplateValue?) throws -> Int? {
            switch x {
            case nil, .none?: return nil
            case .int(let n)?: return n
            default: throw ip.runtime("slice indices must be integers")
            }
        }
        let step = try int(c) ?? 1
        guard step != 0 else { throw ip.runtime("slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ x: Int?, _ def: Int) -> Int {
                guard var x else { return def }
                if x < 0 { x += count }
                return step > 0 ? min(max(x, 0), count) : min(max(x, -1), count - 1)
            }
            let lo = clamp(try int(a), step > 0 ? 0 : count - 1)
            let hi = clamp(try int(b), step > 0 ? count : -1)
            return Array(Swift.stride(from: lo, to: hi, by: step))
        }
        switch v {
        case .array(let arr): return .array(try indices(arr.count).map { arr[$0] })
        case .string(let s):
            let u = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for k in try indices(u.count) { out.append(u[k]) }
            return .string(String(out))
        case .undefined(let n): throw ip.runtime("'\(n)' is undefined (slicing it)")
        default: throw ip.runtime("cannot slice \(v.typeName)")
        }
    }

    // MARK: - Methods

    private static func method(_ name: String, _ f: @escaping @Sendable ([TemplateValue], [(String, TemplateValue)]) throws -> TemplateValue) -> TemplateValue {
        .function(TemplateFunction(name: name, call: f))
    }

    static func dictMethod(_ o: TemplateObject, _ name: String) -> TemplateValue? {
        switch name {
        case "items": return method(name) { _, _ in .array(o.keys.map { .array([.string($0), o[$0]!]) }) }
        case "keys": return method(name) { _, _ in .array(o.keys.map { .string($0) }) }
        case "values": return method(name) { _, _ in .array(o.keys.map { o[$0]! }) }
        case "get": return method(name) { args, _ in
            guard case .string(let k)? = args.first else { return args.count > 1 ? args[1] : .none }
            return o[k] ?? (args.count > 1 ? args[1] : .none)
        }
        default: return nil
        }
    }

    static func stripSet(_ args: [TemplateValue]) -> (Unicode.Scalar) -> Bool {
        if case .string(let chars)? = args.first {
            let set = Set(chars.unicodeScalars)
            return { set.contains($0) }
        }
        return { $0.properties.isWhitespace }
    }

    static func lstrip(_ s: String, _ drop: (Unicode.Scalar) -> Bool) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.drop(while: drop)))
    }
    static func rstrip(_ s: String, _ drop: (Unicode.Scalar) -> Bool) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.reversed().drop(while: drop).reversed()))
    }

    static func stringMethod(_ s: String, _ name: String) -> TemplateValue? {
        switch name {
        case "strip": return method(name) { a, _ in .string(rstrip(lstrip(s, stripSet(a)), stripSet(a))) }
        case "lstrip": return method(name) { a, _ in .string(lstrip(s, stripSet(a))) }
        case "rstrip": return method(name) { a, _ in .string(rstrip(s, stripSet(a))) }
        case "upper": return method(name) { _, _ in .string(s.uppercased()) }
        case "lower": return method(name) { _, _ in .string(s.lowercased()) }
        case "title": return method(name) { _, _ in .string(title(s)) }
        case "capitalize": return method(name) { _, _ in .string(capitalize(s)) }
        case "startswith", "endswith": return method(name) { a, _ in
            let candidates: [TemplateValue]
            if case .array(let arr)? = a.first { candidates = arr } else { candidates = Array(a.prefix(1)) }
            return .bool(candidates.contains { c in
                guard case .string(let p) = c else { return false }
                return name == "startswith" ? s.unicodeScalars.starts(with: p.unicodeScalars)
                    : s.unicodeScalars.reversed().starts(with: p.unicodeScalars.reversed())
            })
        }
        case "split": return method(name) { a, kw in
            let maxSplit: Int = { if case .int(let n)? = (a.count > 1 ? a[1] : kw.first { $0.0 == "maxsplit" }?.1) { return n }; return -1 }()
            if case .string(let sep)? = a.first, !sep.isEmpty { return .array(split(s, by: sep, max: maxSplit).map { .string($0) }) }
            return .array(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
        }
        case "splitlines": return method(name) { _, _ in
            var lines = s.split(omittingEmptySubsequences: false) { $0.isNewline }.map { TemplateValue.string(String($0)) }
            if case .string("")? = lines.last { lines.removeLast() }
            return .array(lines)
        }
        case "replace": return method(name) { a, _ in
            guard a.count >= 2, case .string(let old) = a[0], case .string(let new) = a[1] else { return .string(s) }
            return .string(s.replacingOccurrences(of: old, with: new))
        }
        case "find": return method(name) { a, _ in
            guard case .string(let sub)? = a.first else { return .int(-1) }
            guard let r = s.range(of: sub) else { return .int(-1) }
            return .int(s.unicodeScalars.distance(from: s.startIndex, to: r.lowerBound))
        }
        case "count": return method(name) { a, _ in
            guard case .string(let sub)? = a.first, !sub.isEmpty else { return .int(0) }
            return .int(split(s, by: sub, max: -1).count - 1)
        }
        case "join": return method(name) { a, _ in
            guard case .array(let items)? = a.first else { return .string("") }
            return .string(items.map(\.rendered).joined(separator: s))
        }
        case "format": return nil
        default: return nil
        }
    }

    static func split(_ s: String, by sep: String, max: Int) -> [String] {
        var out = [String]()
        var rest = Substring(s)
        while max < 0 || out.count < max, let r = rest.range(of: sep) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }

    static func title(_ s: String) -> String {
        var out = "", prevLetter = false
        for c in s {
            out += prevLetter ? c.lowercased() : c.uppercased()
            prevLetter = c.isLetter
        }
        return out
    }

    static func capitalize(_ s: String) -> String {
        guard let f = s.first else { return s }
        return f.uppercased() + s.dropFirst().lowercased()
    }

    // MARK: - Operators

    static func binary(_ op: String, _ a: TemplateValue, _ b: TemplateValue, _ ip: Interp) throws -> TemplateValue {
        switch op {
        case "==": return .bool(TemplateValue.equal(a, b))
        case "!=": return .bool(!TemplateValue.equal(a, b))
        case "<", ">", "<=", ">=":
            let c: Int
            if let x = a.number, let y = b.number { c = x < y ? -1 : x > y ? 1 : 0 }
            else if case .string(let x) = a, case .string(let y) = b { c = x < y ? -1 : x > y ? 1 : 0 }
            else { throw ip.runtime("cannot compare \(a.typeName) with \(b.typeName) using '\(op)'") }
            switch op { case "<": return .bool(c < 0); case ">": return .bool(c > 0); case "<=": return .bool(c <= 0); default: return .bool(c >= 0) }
        case "in", "not in":
            let r: Bool
            switch b {
            case .string(let s):
                guard case .string(let x) = a else { throw ip.runtime("'in <string>' needs a string on the left, not \(a.typeName)") }
                r = x.isEmpty || s.contains(x)
            case .array(let arr): r = arr.contains { TemplateValue.equal($0, a) }
            case .object(let o): if case .string(let k) = a { r = o[k] != nil } else { r = false }
            case .namespace(let ns): if case .string(let k) = a { r = ns.object[k] != nil } else { r = false }
            case .undefined(let n): throw ip.runtime("'\(n)' is undefined (testing membership)")
            default: throw ip.runtime("\(b.typeName) does not support 'in'")
            }
            return .bool(op == "in" ? r : !r)
        case "~": return .string(a.rendered + b.rendered)
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default: return try arithmetic(op, a, b, ip)
            }
        case "*":
            if case .string(let s) = a, case .int(let n) = b { return .string(String(repeating: s, count: max(0, n))) }
            if case .array(let s) = a, case .int(let n) = b { return .array(Array(repeating: s, count: max(0, n)).flatMap { $0 }) }
            return try arithmetic(op, a, b, ip)
        default: return try arithmetic(op, a, b, ip)
        }
    }

    private static func arithmetic(_ op: String, _ a: TemplateValue, _ b: TemplateValue, _ ip: Interp) throws -> TemplateValue {
        if case .undefined(let n) = a { throw ip.runtime("'\(n)' is undefined (in '\(op)')") }
        if case .undefined(let n) = b { throw ip.runtime("'\(n)' is undefined (in '\(op)')") }
        let ints: (Int, Int)? = {
            switch (a, b) {
            case (.int(let x), .int(let y)): return (x, y)
            case (.bool(let x), .int(let y)): return (x ? 1 : 0, y)
            case (.int(let x), .bool(let y)): return (x, y ? 1 : 0)
            default: return nil
            }
        }()
        guard let x = a.number, let y = b.number else {
            throw ip.runtime("unsupported operand types for '\(op)': \(a.typeName) and \(b.typeName)")
        }
        switch op {
        case "+": if let (p, q) = ints { return .int(p &+ q) }; return .double(x + y)
        case "-": if let (p, q) = ints { return .int(p &- q) }; return .double(x - y)
        case "*": if let (p, q) = ints { return .int(p &* q) }; return .double(x * y)
        case "/":
            guard y != 0 else { throw ip.runtime("division by zero") }
            return .double(x / y)
        case "//":
            guard y != 0 else { throw ip.runtime("division by zero") }
            if let (p, q) = ints { return .int(Int((Double(p) / Double(q)).rounded(.down))) }
            return .double((x / y).rounded(.down))
        case "%":
            guard y != 0 else { throw ip.runtime("modulo by zero") }
            if let (p, q) = ints { let r = p % q; return .int(r != 0 && (r < 0) != (q < 0) ? r + q : r) }
            let r = x.truncatingRemainder(dividingBy: y)
            return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
        case "**":
            if let (p, q) = ints, q >= 0 { var r = 1; for _ in 0..<q { r = r &* p }; return .int(r) }
            return .double(pow(x, y))
        default: throw ip.runtime("unknown operator '\(op)'")
        }
    }
}
