import Foundation
import ModelFiles

/// A value inside a template, with Python's semantics where templates depend on them
/// (truthiness, equality, `str()` and `repr()` formatting).
public indirect enum TemplateValue: Sendable {
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    case object(TemplateObject)
    /// `namespace(...)`: the one mutable object (`{% set ns.x = ... %}`).
    case namespace(NamespaceBox)
    /// A callable: a macro, a global function, or a method bound to its receiver.
    case function(TemplateFunction)

    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let n): return n != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.keys.isEmpty
        case .namespace, .function: return true
        }
    }

    public var isUndefined: Bool { if case .undefined = self { return true }; return false }

    /// Python `str()`: what `{{ x }}` prints.
    public var rendered: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python `repr()`.
    public var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let n): return String(n)
        case .double(let d): return Self.pythonFloat(d)
        case .string(let s): return Self.pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.map { "\(Self.pythonStringRepr($0)): \(o.values[$0]!.repr)" }.joined(separator: ", ") + "}"
        case .namespace: return "<Namespace>"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded() && abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    static func pythonStringRepr(_ s: String) -> String {
        let quote = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = quote
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if String(u) == quote { out += "\\" + quote }
                else if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\x%02x", u.value) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + quote
    }

    /// Python `==`.
    public static func equal(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { equal(x.values[$0]!, y.values[$0]!) }
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }

    /// Numeric value (bools count as 0/1, as in Python).
    var number: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "none"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "string"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "namespace"
        case .function: return "function"
        }
    }

    // MARK: - JSON

    /// `json.dumps` as Hugging Face's `tojson` calls it (ensure_ascii=False, insertion order kept).
    func json(indent: Int?, level: Int = 0, sortKeys: Bool = false) throws -> String {
        func pad(_ l: Int) -> String { indent.map { "\n" + String(repeating: " ", count: $0 * l) } ?? "" }
        let itemSep = indent == nil ? ", " : ","
        switch self {
        case .none, .undefined: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return String(n)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
            return Self.pythonFloat(d)
        case .string(let s): return Self.jsonString(s)
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[" + (try a.map { pad(level + 1) + (try $0.json(indent: indent, level: level + 1, sortKeys: sortKeys)) }
                .joined(separator: itemSep)) + pad(level) + "]"
        case .object(let o):
            if o.keys.isEmpty { return "{}" }
            let keys = sortKeys ? o.keys.sorted() : o.keys
            return "{" + (try keys.map { k in
                pad(level + 1) + Self.jsonString(k) + ": " + (try o.values[k]!.json(indent: indent, level: level + 1, sortKeys: sortKeys))
            }.joined(separator: itemSep)) + pad(level) + "}"
        case .namespace(let n): return try TemplateValue.object(n.object).json(indent: indent, level: level, sortKeys: sortKeys)
        case .function(let f): throw TemplateError.runtime(line: 0, message: "cannot serialise function \(f.name) to JSON")
        }
    }

    static func jsonString(_ s: String) -> String { JSONText.quoted(s) }
}

/// An insertion-ordered string-keyed dictionary (Python dicts keep insertion order).
public struct TemplateObject: Sendable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: TemplateValue] = [:]

    public init() {}
    public init(_ pairs: KeyValuePairs<String, TemplateValue>) { for (k, v) in pairs { self[k] = v } }

    public subscript(key: String) -> TemplateValue? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }
}

public final class NamespaceBox: @unchecked Sendable {
    var object: TemplateObject
    init(_ o: TemplateObject) { object = o }
}

public struct TemplateFunction: Sendable {
    public let name: String
    let call: @Sendable ([TemplateValue], [(String, TemplateValue)]) throws -> TemplateValue
}
