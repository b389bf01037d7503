import Foundation

/// Renders a parsed template: statements write to an output string, expressions
/// evaluate to `TemplateValue`s. Scoping as in jinja2: a `for` body (and a macro
/// call) gets its own scope, so `set` inside a loop does not leak out; that is
/// what `namespace()` is for.
final class TemplateInterpreter: @unchecked Sendable {
    private var scopes: [[String: TemplateValue]]
    private var output = ""
    private var line = 0

    private enum LoopSignal: Error { case breakLoop, continueLoop }

    init(globals: [String: TemplateValue]) {
        scopes = [Builtins.globals.merging(globals) { $1 }]
    }

    func render(_ nodes: [Node]) throws -> String {
        output = ""
        do { try execute(nodes) } catch LoopSignal.breakLoop, LoopSignal.continueLoop {
            throw TemplateError.syntax(line: line, message: "break or continue outside a loop")
        }
        return output
    }

    // MARK: - Scopes

    private func lookup(_ name: String) -> TemplateValue {
        for s in scopes.reversed() { if let v = s[name] { return v } }
        return .undefined(name)
    }

    private func assign(_ name: String, _ v: TemplateValue) { scopes[scopes.count - 1][name] = v }

    private func withScope<T>(_ vars: [String: TemplateValue], _ body: () throws -> T) rethrows -> T {
        scopes.append(vars)
        defer { scopes.removeLast() }
        return try body()
    }

    // MARK: - Statements

    private func execute(_ nodes: [Node]) throws {
        for n in nodes { try execute(n) }
    }

    private func execute(_ node: Node) throws {
        switch node {
        case .text(let t): output += t
        case .output(let e, let l):
            line = l
            output += try eval(e).rendered
        case .ifBlock(let branches, let elseBody, let l):
            line = l
            for (cond, body) in branches where try eval(cond).isTruthy { try execute(body); return }
            try execute(elseBody)
        case .forBlock(let targets, let iterable, let condition, let body, let elseBody, let l):
            line = l
            try runFor(targets: targets, items: try iterate(try eval(iterable)), condition: condition, body: body, elseBody: elseBody)
        case .set(let target, let value, let l):
            line = l
            let v = try eval(value)
            switch target {
            case .names(let names) where names.count == 1: assign(names[0], v)
            case .names(let names):
                let items = try iterate(v)
                guard items.count == names.count else { throw runtime("cannot unpack \(items.count) values into \(names.count) names") }
                for (n, x) in zip(names, items) { assign(n, x) }
            case .attribute(let obj, let attr):
                guard case .namespace(let ns) = lookup(obj) else {
                    throw runtime("'\(obj)' is not a namespace; only namespace() objects can be assigned attributes")
                }
                ns.object[attr] = v
            }
        case .setBlock(let name, let body, let l):
            line = l
            let saved = output
            output = ""
            try execute(body)
            let captured = output
            output = saved
            assign(name, .string(captured))
        case .macro(let name, let params, let body, let l):
            line = l
            assign(name, makeMacro(name: name, params: params, body: body))
        case .loopControl(let isBreak, _):
            throw isBreak ? LoopSignal.breakLoop : LoopSignal.continueLoop
        case .group(let body):
            try execute(body)
        }
    }

    private func runFor(targets: [String], items all: [TemplateValue], condition: Expr?, body: [Node], elseBody: [Node]) throws {
        func bind(_ item: TemplateValue) throws -> [String: TemplateValue] {
            if targets.count == 1 { return [targets[0]: item] }
            let parts = try iterate(item)
            guard parts.count == targets.count else { throw runtime("cannot unpack \(parts.count) values into \(targets.count) loop variables") }
            return Dictionary(uniqueKeysWithValues: zip(targets, parts))
        }
        var items = all
        if let condition {  // the filter is applied before `loop` counts
            items = try all.filter { item in try withScope(try bind(item)) { try eval(condition).isTruthy } }
        }
        if items.isEmpty { try execute(elseBody); return }
        let n = items.count
        for (i, item) in items.enumerated() {
            var vars = try bind(item)
            var loop = TemplateObject()
            loop["index"] = .int(i + 1); loop["index0"] = .int(i)
            loop["revindex"] = .int(n - i); loop["revindex0"] = .int(n - i - 1)
            loop["first"] = .bool(i == 0); loop["last"] = .bool(i == n - 1)
            loop["length"] = .int(n)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("loop.previtem")
            loop["nextitem"] = i + 1 < n ? items[i + 1] : .undefined("loop.nextitem")
            loop["cycle"] = .function(TemplateFunction(name: "loop.cycle") { args, _ in
                args.isEmpty ? .none : args[i % args.count]
            })
            vars["loop"] = .object(loop)
            do {
                try withScope(vars) { try execute(body) }
            } catch LoopSignal.breakLoop {
                break
            } catch LoopSignal.continueLoop {
                continue
            }
        }
    }

    private func makeMacro(name: String, params: [(String, Expr?)], body: [Node]) -> TemplateValue {
        .function(TemplateFunction(name: name) { [unowned self] args, kwargs in
            var vars = [String: TemplateValue]()
            for (k, (p, def)) in params.enumerated() {
                if k < args.count { vars[p] = args[k] }
                else if let kw = kwargs.first(where: { $0.0 == p }) { vars[p] = kw.1 }
                else if let def { vars[p] = try self.eval(def) }
                else { vars[p] = .undefined(p) }
            }
            vars["varargs"] = .array(Array(args.dropFirst(params.count)))
            let saved = self.output
            self.output = ""
            defer { self.output = saved }
            try self.withScope(vars) { try self.execute(body) }
            return .string(self.output)
        })
    }

    // MARK: - Expressions

    func runtime(_ m: String) -> TemplateError { .runtime(line: line, message: m) }

    func iterate(_ v: TemplateValue) throws -> [TemplateValue] {
        switch v {
        case .array(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw runtime("\(v.typeName) is not iterable")
        }
    }

    func eval(_ e: Expr) throws -> TemplateValue {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items): return .array(try items.map(eval))
        case .dict(let pairs):
            var o = TemplateObject()
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else { throw runtime("dictionary keys must be strings") }
                o[key] = try eval(v)
            }
            return .object(o)
        case .attribute(let base, let name):
            return try Builtins.attribute(try eval(base), name, self)
        case .index(let base, let idx):
            return try Builtins.subscriptValue(try eval(base), try eval(idx), self)
        case .slice(let base, let a, let b, let c):
            return try Builtins.slice(try eval(base), try a.map(eval), try b.map(eval), try c.map(eval), self)
        case .call(let fn, let args, let kwargs):
            let f = try eval(fn)
            guard case .function(let function) = f else {
                if case .undefined(let n) = f { throw runtime("'\(n)' is undefined and cannot be called") }
                throw runtime("\(f.typeName) is not callable")
            }
            return try function.call(try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) })
        case .filter(let base, let name, let args, let kwargs):
            return try Builtins.filter(name, try eval(base), try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) }, self)
        case .test(let base, let name, let args, let negated):
            let r = try Builtins.test(name, try eval(base), try args.map(eval), self)
            return .bool(r != negated)
        case .unary(let op, let x):
            let v = try eval(x)
            switch op {
            case "not": return .bool(!v.isTruthy)
            case "-":
                if case .int(let n) = v { return .int(-n) }
                if case .double(let d) = v { return .double(-d) }
                throw runtime("cannot negate \(v.typeName)")
            default: return v
            }
        case .binary("and", let a, let b):
            let x = try eval(a); return x.isTruthy ? try eval(b) : x
        case .binary("or", let a, let b):
            let x = try eval(a); return x.isTruthy ? x : try eval(b)
        case .binary(let op, let a, let b):
            return try Builtins.binary(op, try eval(a), try eval(b), self)
        case .conditional(let cond, let then, let other):
            if try eval(cond).isTruthy { return try eval(then) }
            return try other.map(eval) ?? .undefined("conditional")
        }
    }
}
