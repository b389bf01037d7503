/// The syntax tree of a template.
indirect enum Expr {
    case literal(TemplateValue)
    case name(String)
    case list([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String)
    case index(Expr, Expr)
    case slice(Expr, Expr?, Expr?, Expr?)
    case call(Expr, [Expr], [(String, Expr)])
    case filter(Expr, String, [Expr], [(String, Expr)])
    case test(Expr, String, [Expr], negated: Bool)
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    case conditional(Expr, then: Expr, else: Expr?)
}

indirect enum Node {
    case text(String)
    case output(Expr, line: Int)
    case ifBlock([(Expr, [Node])], else: [Node], line: Int)
    case forBlock(targets: [String], iterable: Expr, condition: Expr?, body: [Node], else: [Node], line: Int)
    case set(target: SetTarget, value: Expr, line: Int)
    case setBlock(name: String, body: [Node], line: Int)
    case macro(name: String, parameters: [(String, Expr?)], body: [Node], line: Int)
    case loopControl(isBreak: Bool, line: Int)
    /// `{% generation %}` (Hugging Face's assistant-mask marker): renders its body.
    case group([Node])
}

enum SetTarget {
    case names([String])
    case attribute(String, String)
}
