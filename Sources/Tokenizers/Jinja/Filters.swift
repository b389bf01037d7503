import Foundation

// Filters (`x | name(args)`) and tests (`x is name`), as jinja2 defines them.
extension Builtins {
    static func filter(_ name: String, _ v: TemplateValue, _ args: [TemplateValue], _ kwargs: [(String, TemplateValue)],
                       _ ip: Interp) throws -> TemplateValue {
        func arg(_ i: Int, _ key: String) -> TemplateValue? { i < args.count ? args[i] : kwargs.first { $0.0 == key }?.1 }
        func string() throws -> String {
            if case .undefined(let n) = v { throw ip.runtime("'\(n)' is undefined (filter '\(name)')") }
            return v.rendered
        }
        switch name {
        case "trim": return .string(rstrip(lstrip(try string(), stripSet(args)), stripSet(args)))
        case "upper": return .string(try string().uppercased())
        case "lower": return .string(try string().lowercased())
        case "title": return .string(title(try string()))
        case "capitalize": return .string(capitalize(try string()))
        case "string": return .string(v.rendered)
        case "safe", "escape", "e", "forceescape":
            return name == "safe" ? v : .string(try string().replacingOccurrences(of: "&", with: "&amp;")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&#34;").replacingOccurrences(of: "'", with: "&#39;"))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.keys.count)
            case .undefined: return .int(0)
            default: throw ip.runtime("\(v.typeName) has no length")
            }
        case "first", "last":
            let items = try ip.iterate(v)
            return (name == "first" ? items.first : items.last) ?? .undefined(name)
        case "join":
            var items = try ip.iterate(v)
            if case .string(let attr)? = arg(1, "attribute") { items = try items.map { try attribute($0, attr, ip) } }
            return .string(items.map(\.rendered).joined(separator: arg(0, "d")?.rendered ?? ""))
        case "default", "d":
            let boolean = arg(1, "boolean")?.isTruthy ?? false
            if v.isUndefined || (boolean && !v.isTruthy) { return arg(0, "default_value") ?? .string("") }
            return v
        case "int":
            switch v {
            case .int: return v
            case .double(let d): return .int(Int(d))
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s): return .int(Int(s.trimmingSpaces) ?? Double(s.trimmingSpaces).map { Int($0) } ?? 0)
            default: return arg(0, "default") ?? .int(0)
            }
        case "float":
            if let x = v.number { return .double(x) }
            if case .string(let s) = v, let d = Double(s.trimmingSpaces) { return .double(d) }
            return arg(0, "default") ?? .double(0)
        case "abs":
            if case .int(let n) = v { return .int(abs(n)) }
            guard let x = v.number else { throw ip.runtime("abs of \(v.typeName)") }
            return .double(abs(x))
        case "round":
            guard let x = v.number else { throw ip.runtime("round of \(v.typeName)") }
            var precision = 0
            if case .int(let p)? = arg(0, "precision") { precision = p }
            let method = arg(1, "method")?.rendered ?? "common"
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "floor" ? .down : method == "ceil" ? .up : .toNearestOrAwayFromZero
            return .double((x * scale).rounded(rule) / scale)
        case "list": return .array(try ip.iterate(v))
        case "items":
            guard case .object(let o) = v else { if v.isUndefined { return .array([]) }; throw ip.runtime("items of \(v.typeName)") }
            return .array(o.keys.map { .array([.string($0), o[$0]!]) })
        case "reverse":
            if case .string(let s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .array(try ip.iterate(v).reversed())
        case "unique":
            var out = [TemplateValue]()
            for x in try ip.iterate(v) where !out.contains(where: { TemplateValue.equal($0, x) }) { out.append(x) }
            return .array(out)
        case "sort":
            let reverse = arg(0, "reverse")?.isTruthy ?? false
            let attr = arg(2, "attribute")?.rendered
            let items = try ip.iterate(v)
            let keyed = try items.map { ($0, attr == nil ? $0 : try attribute($0, attr!, ip)) }
            let sorted = try keyed.sorted { a, b in
                guard case .bool(let lt) = try binary("<", a.1, b.1, ip) else { return false }
                return lt
            }.map(\.0)
            return .array(reverse ? sorted.reversed() : sorted)
        case "min", "max", "sum":
            let items = try ip.iterate(v)
            if name == "sum" { return try items.reduce(TemplateValue.int(0)) { try binary("+", $0, $1, ip) } }
            guard var best = items.first else { return .undefined(name) }
            for x in items.dropFirst() {
                if case .bool(true) = try binary(name == "min" ? "<" : ">", x, best, ip) { best = x }
            }
            return best
        case "replace":
            guard args.count >= 2 else { throw ip.runtime("replace needs two arguments") }
            return .string(try string().replacingOccurrences(of: args[0].rendered, with: args[1].rendered))
        case "tojson":
            var indent: Int?
            if case .int(let n)? = arg(0, "indent") { indent = n }
            return .string(try v.json(indent: indent, sortKeys: arg(99, "sort_keys")?.isTruthy ?? false))
        case "indent":
            var width = 4
            if case .int(let n)? = arg(0, "width") { width = n } else if case .string(let s)? = arg(0, "width") { width = s.count }
            let pad = String(repeating: " ", count: width)
            let first = arg(1, "first")?.isTruthy ?? false
            let blank = arg(2, "blank")?.isTruthy ?? false
            let lines = try string().components(separatedBy: "\n")
            return .string(lines.enumerated().map { i, l in
                (i == 0 && !first) || (l.isEmpty && !blank) ? l : pad + l
            }.joined(separator: "\n"))
        case "wordcount": return .int(try string().split(whereSeparator: { $0.isWhitespace }).count)
        case "map":
            let items = try ip.iterate(v)
            if case .string(let attr)? = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let def = kwargs.first { $0.0 == "default" }?.1
                return .array(try items.map { x in
                    let r = try attribute(x, attr, ip)
                    return r.isUndefined ? (def ?? r) : r
                })
            }
            guard case .string(let f)? = args.first else { throw ip.runtime("map needs a filter name or attribute=") }
            return .array(try items.map { try filter(f, $0, Array(args.dropFirst()), [], ip) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttr = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            let items = try ip.iterate(v)
            let attr = byAttr ? args.first?.rendered : nil
            let rest = Array(args.dropFirst(byAttr ? 1 : 0))
            return .array(try items.filter { x in
                let subject = try attr.map { try attribute(x, $0, ip) } ?? x
                let ok: Bool
                if let t = rest.first { ok = try test(t.rendered, subject, Array(rest.dropFirst()), ip) } else { ok = subject.isTruthy }
                return ok == keep
            })
        case "batch", "slice", "groupby", "dictsort", "filesizeformat", "format", "pprint", "random", "striptags",
             "truncate", "urlencode", "urlize", "wordwrap", "xmlattr", "center":
            throw TemplateError.unsupported(line: 0, construct: "the '\(name)' filter")
        default:
            throw ip.runtime("unknown filter '\(name)'")
        }
    }

    static func test(_ name: String, _ v: TemplateValue, _ args: [TemplateValue], _ ip: Interp) throws -> Bool {
        func number() -> Double? { v.number }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "string": if case .string = v { return true }; return false
        case "number": switch v { case .int, .double: return true; default: return false }
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "mapping": switch v { case .object, .namespace: return true; default: return false }
        case "sequence", "iterable": switch v { case .array, .string, .object: return true; default: return false }
        case "callable": if case .function = v { return true }; return false
        case "lower": if case .string(let s) = v { return s == s.lowercased() }; return false
        case "upper": if case .string(let s) = v { return s == s.uppercased() }; return false
        case "even", "odd":
            guard case .int(let n) = v else { throw ip.runtime("'\(name)' test needs an integer") }
            return (n % 2 == 0) == (name == "even")
        case "divisibleby":
            guard case .int(let n) = v, case .int(let d)? = args.first, d != 0 else { throw ip.runtime("'divisibleby' needs integers") }
            return n % d == 0
        case "eq", "equalto", "==", "sameas": return TemplateValue.equal(v, args.first ?? .none)
        case "ne", "!=": return !TemplateValue.equal(v, args.first ?? .none)
        case "lt", "gt", "le", "ge", "lessthan", "greaterthan", "<", ">", "<=", ">=":
            let op = ["lt": "<", "lessthan": "<", "gt": ">", "greaterthan": ">", "le": "<=", "ge": ">="][name] ?? name
            return try binary(op, v, args.first ?? .none, ip).isTruthy
        case "in": return try binary("in", v, args.first ?? .none, ip).isTruthy
        default: throw ip.runtime("unknown test '\(name)'")
        }
    }
}
